package dev.spruce.importance;

import dev.spruce.data.Batches;
import dev.spruce.data.TokenSample;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.WeightSource;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.FailureInjection;
import dev.spruce.spark.LiveCounter;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.Progress;
import dev.spruce.spark.TaskDevice;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.Partitioner;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.DoubleAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Importance on Spark. Each task accumulates its shard's gradients on its executor's cached model and
 * emits signed partial sums keyed by (member, row block); {@link OrderedSums} adds them in shard order, so no
 * process holds every gradient and the sums are bit-identical from run to run; each reduced block becomes its
 * piece of a member vector; the driver collects only those vectors and scores the units.
 */
public final class DistributedImportance {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");

    /** Elements per shuffled block of a partial sum (8 MB of doubles). */
    public static final int DEFAULT_BLOCK_ELEMENTS = 1 << 20;

    private DistributedImportance() {}

    /** What the job measured besides the scores. */
    /**
     * @param taskDevices one entry per task attempt: {@code executor <id> partition <p> on <device>}
     */
    public record Result(ImportanceScores scores, long samples, long tokens, double computeSeconds,
                         double reduceSeconds, List<String> taskDevices, double forwardBackwardSeconds)
            implements Serializable {}

    /**
     * Shuffle keys pack (member index, row block) into a long (Kryo, common on clusters, cannot serialize
     * records); {@link #COUNTS} carries the sample and token counts.
     */
    static long key(int member, int block) {
        return ((long) member << 32) | (block & 0xffffffffL);
    }

    static int memberOf(long key) {
        return (int) (key >> 32);
    }

    static int blockOf(long key) {
        return (int) key;
    }

    /**
     * Runs the job.
     *
     * @param weights the model's weights read on the driver one tensor at a time (magnitude criteria
     *                and tensor shapes only)
     */
    public static Result run(SparkSession spark, ModelRef ref, LlamaConfig config, WeightSource weights,
                             Dataset<TokenSample> samples, ScoringSettings settings, int microBatch,
                             int padId, int blockElements) {
        return run(spark, ref, config, weights, samples, settings, microBatch, padId, blockElements, -1);
    }

    /**
     * Runs the job on samples the caller has already counted: {@code sampleCount} is the progress lines' total, so
     * the job does not run a Spark job of its own to count them (-1: it does).
     */
    public static Result run(SparkSession spark, ModelRef ref, LlamaConfig config, WeightSource weights,
                             Dataset<TokenSample> samples, ScoringSettings settings, int microBatch,
                             int padId, int blockElements, long sampleCount) {
        return run(spark, ref, config, weights, samples, settings, microBatch, padId, blockElements, sampleCount,
                false);
    }

    /**
     * @param shuffleOneShard send a single shard's partial sums through the shuffle as if there were several (tests
     *                        compare the two paths); by default one shard computes its member vectors itself
     */
    static Result run(SparkSession spark, ModelRef ref, LlamaConfig config, WeightSource weights,
                      Dataset<TokenSample> samples, ScoringSettings settings, int microBatch,
                      int padId, int blockElements, long sampleCount, boolean shuffleOneShard) {
        GroupScorer scorer = new GroupScorer(config, settings);
        List<Member> members = scorer.members();
        Criterion criterion = settings.criterion();
        if (!criterion.isTaylor()) {
            long n = sampleCount >= 0 ? sampleCount : samples.count();
            return new Result(scorer.score(ImportanceEstimator.memberVectors(criterion, members, m -> null,
                    weights, n)), n, 0, 0, 0, List.of(), 0);
        }
        JavaRDD<TokenSample> rdd = samples.javaRDD();
        int partitions = rdd.getNumPartitions();
        Map<String, long[]> shapes = dev.spruce.model.TensorNames.expectedShapes(config);
        List<int[]> memberShapes = new ArrayList<>();
        for (Member m : members) {
            memberShapes.add(GradientAccumulator.rowsCols(shapes.get(m.tensor())));
        }
        Progress progress = new Progress(spark, "importance", partitions);
        boolean oneShard = partitions == 1 && !shuffleOneShard;
        progress.describe(oneShard ? "gradients and member vectors of its one shard"
                : "gradients and partial sums over " + partitions + " shards");
        long started = System.nanoTime();
        CollectionAccumulator<String> devices = spark.sparkContext().collectionAccumulator("importance task devices");
        long totalSamples = sampleCount >= 0 ? sampleCount : samples.count();
        AtomicLong lastLiveLog = new AtomicLong();
        LiveCounter samplesDone = new LiveCounter(spark.sparkContext(), "importance samples done",
                done -> liveProgress(done, totalSamples, started, lastLiveLog));
        LongAccumulator doneAccumulator = samplesDone.accumulator();
        DoubleAccumulator forwardBackward = spark.sparkContext().doubleAccumulator("importance forward/backward s");
        boolean narrow = !"float64".equals(ref.dataType());
        try {
            if (oneShard) {
                return oneShard(rdd, ref, criterion, members, memberShapes, scorer, microBatch, padId, blockElements,
                        devices, doneAccumulator, forwardBackward, narrow, sampleCount, progress, started, samplesDone);
            }
            BlockPartitioner byBlock = BlockPartitioner.of(criterion, memberShapes, blockElements, partitions, narrow);
            JavaPairRDD<Long, double[]> reduced = OrderedSums.sum(rdd
                    .mapPartitionsToPair(it -> shard(it, ref, criterion, members, microBatch, padId, blockElements,
                            devices, partitions, doneAccumulator, forwardBackward, narrow, "the shuffle")),
                    byBlock, OrderedSums.BLOCKS);
            return checkCount(collect(spark, reduced, criterion, members, memberShapes, scorer, blockElements,
                    partitions, progress, started, samplesDone, devices, forwardBackward), sampleCount);
        } finally {
            ExecutorModels.releaseEverywhere(spark, ref); // the stage's model: later stages load their own
        }
    }

    /** The counts record (samples, tokens), refused when no shard had a sample. */
    private static double[] requireSamples(double[] counts, Progress progress) {
        if (counts == null || counts[0] == 0) {
            progress.finish();
            throw new IllegalArgumentException("the calibration set is empty: no samples reached the importance job");
        }
        return counts;
    }

    private static Result checkCount(Result r, long sampleCount) {
        if (sampleCount >= 0 && r.samples() != sampleCount) {
            throw new IllegalStateException("importance: the caller counted " + sampleCount
                    + " calibration samples but the shards scored " + r.samples());
        }
        return r;
    }

    /**
     * One shard needs no cross-shard sums, so it skips the shuffle: its task turns each block into its member-vector
     * piece as the reduce would (the same values, the same additions in block order), and only the pieces reach the
     * driver. With one shard the shuffle would carry a float32 copy of every scored weight: about 21 GB for LLaMA-7B's
     * default layers 4-29.
     */
    private static Result oneShard(JavaRDD<TokenSample> rdd, ModelRef ref, Criterion criterion, List<Member> members,
                                   List<int[]> memberShapes, GroupScorer scorer, int microBatch, int padId,
                                   int blockElements, CollectionAccumulator<String> devices,
                                   LongAccumulator samplesDone, DoubleAccumulator forwardBackward, boolean narrow,
                                   long sampleCount, Progress progress, long started, LiveCounter live) {
        List<Tuple2<Long, double[]>> records;
        try (live) {
            records = rdd.mapPartitions(it -> memberPieces(shard(it, ref, criterion, members, microBatch, padId,
                    blockElements, devices, 1, samplesDone, forwardBackward, narrow, "member vectors"), criterion,
                    members, memberShapes)).collect();
        }
        double[] counts = requireSamples(records.isEmpty() ? null : records.get(0)._2(), progress);
        long n = (long) counts[0];
        long tokens = (long) counts[1];
        double computeSeconds = (System.nanoTime() - started) / 1e9;
        progress.done(1);
        long assembleStarted = System.nanoTime();
        Map<Member, double[]> assembled = assemble(records.subList(1, records.size()), members, memberShapes,
                criterion, blockElements);
        double reduceSeconds = (System.nanoTime() - assembleStarted) / 1e9;
        progress.finish();
        List<String> taskDevices = new ArrayList<>(devices.value());
        LOG.info("importance: {} samples, {} tokens in one shard; the task ran on {}", n, tokens, taskDevices);
        return checkCount(new Result(scorer.score(MemberVectors.of(assembled)), n, tokens, computeSeconds,
                reduceSeconds, taskDevices, forwardBackward.value()), sampleCount);
    }

    /**
     * A lone shard's blocks as the pieces {@link #assemble} takes: the counts record first, then per key its piece,
     * column-axis pieces added in block order as {@link OrderedSums} adds them.
     */
    private static Iterator<Tuple2<Long, double[]>> memberPieces(
            Iterator<Tuple2<Tuple2<Long, Integer>, PartialBlock>> blocks, Criterion criterion, List<Member> members,
            List<int[]> memberShapes) {
        if (!blocks.hasNext()) {
            return java.util.Collections.emptyIterator();
        }
        double[] counts = blocks.next()._2().toDoubles();
        long n = (long) counts[0];
        Map<Long, double[]> pieces = new java.util.LinkedHashMap<>();
        pieces.put(COUNTS, counts);
        while (blocks.hasNext()) {
            Tuple2<Tuple2<Long, Integer>, PartialBlock> b = blocks.next();
            Tuple2<Tuple2<Long, Integer>, double[]> piece = memberPiece(b._1()._1(), b._2().toDoubles(), criterion,
                    members, memberShapes, n);
            double[] sum = pieces.get(piece._1()._1());
            if (sum == null) {
                pieces.put(piece._1()._1(), piece._2());
            } else {
                OrderedSums.DOUBLES.add(sum, piece._2(), piece._1()._1());
            }
        }
        List<Tuple2<Long, double[]>> out = new ArrayList<>();
        pieces.forEach((k, v) -> out.add(new Tuple2<>(k, v)));
        return out.iterator();
    }

    private static Result collect(SparkSession spark, JavaPairRDD<Long, double[]> reduced, Criterion criterion,
                                  List<Member> members, List<int[]> memberShapes, GroupScorer scorer,
                                  int blockElements, int partitions, Progress progress, long started,
                                  LiveCounter samplesDone, CollectionAccumulator<String> devices,
                                  DoubleAccumulator forwardBackward) {
        List<double[]> countRecords;
        try (samplesDone) {
            countRecords = reduced.lookup(COUNTS);
        }
        double[] counts = requireSamples(countRecords.isEmpty() ? null : countRecords.get(0), progress);
        long n = (long) counts[0];
        long tokens = (long) counts[1];
        double computeSeconds = (System.nanoTime() - started) / 1e9;
        progress.done(partitions);
        progress.describe("member vectors from the summed blocks of " + partitions + " shards");
        long reduceStarted = System.nanoTime();
        List<Tuple2<Long, double[]>> vectors = OrderedSums.sum(reduced
                .filter(kv -> kv._1() != COUNTS)
                .mapToPair(kv -> memberPiece(kv._1(), kv._2(), criterion, members, memberShapes, n)), partitions)
                .collect();
        Map<Member, double[]> assembled = assemble(vectors, members, memberShapes, criterion, blockElements);
        double reduceSeconds = (System.nanoTime() - reduceStarted) / 1e9;
        progress.finish();
        List<String> taskDevices = new ArrayList<>(devices.value());
        LOG.info("importance: {} samples, {} tokens; tasks ran on {}", n, tokens, taskDevices);
        return new Result(scorer.score(MemberVectors.of(assembled)), n, tokens, computeSeconds, reduceSeconds,
                taskDevices, forwardBackward.value());
    }

    private static final long COUNTS = -1L;

    /** Rows of a member's full-size partial per shuffled block (vectorize ships one small vector instead). */
    static int rowsPerBlock(int[] shape, int blockElements) {
        return Math.max(1, blockElements / shape[1]);
    }

    /**
     * A reduced block's piece of its member vector, keyed by (piece, block). Row-axis pieces keep their block key
     * (they are disjoint slices); column-axis pieces are partial sums over the block's rows, re-keyed to block 0
     * and added in block order.
     */
    static Tuple2<Tuple2<Long, Integer>, double[]> memberPiece(long key, double[] block, Criterion c,
                                                               List<Member> members, List<int[]> shapes, long n) {
        Member m = members.get(memberOf(key));
        int[] shape = shapes.get(memberOf(key));
        if (c == Criterion.VECTORIZE) {
            return new Tuple2<>(new Tuple2<>(key, 0),
                    Salience.memberVector(c, block, null, n, shape[0], shape[1], m.axis()));
        }
        int rows = block.length / shape[1];
        double[] piece = Salience.memberVector(c, block, null, n, rows, shape[1], m.axis());
        long pieceKey = m.axis() == Axis.COLUMN ? key(memberOf(key), 0) : key;
        return new Tuple2<>(new Tuple2<>(pieceKey, blockOf(key)), piece);
    }

    private static Map<Member, double[]> assemble(List<Tuple2<Long, double[]>> pieces, List<Member> members,
                                                  List<int[]> shapes, Criterion c, int blockElements) {
        Map<Member, double[]> out = new HashMap<>();
        for (Tuple2<Long, double[]> kv : pieces) {
            int member = memberOf(kv._1());
            Member m = members.get(member);
            int[] shape = shapes.get(member);
            double[] vector = out.computeIfAbsent(m, x -> new double[m.axis().length(shape[0], shape[1])]);
            // Row-axis blocks are consecutive row slices; column and entry pieces cover the whole vector.
            int offset = m.axis() == Axis.ROW && c != Criterion.VECTORIZE
                    ? blockOf(kv._1()) * rowsPerBlock(shape, blockElements) : 0;
            System.arraycopy(kv._2(), 0, vector, offset, kv._2().length);
        }
        return out;
    }

    /**
     * A task's partial sums keyed by (member and block, the task's partition), the order they are added in. The
     * gradients are accumulated first; the blocks are then computed one at a time as the shuffle writer (or, for a
     * lone shard, {@link #memberPieces}) asks for them, so the task's heap holds about one block, not its shard's
     * whole partial.
     */
    private static Iterator<Tuple2<Tuple2<Long, Integer>, PartialBlock>> shard(Iterator<TokenSample> it,
            ModelRef ref, Criterion criterion, List<Member> members, int microBatch, int padId, int blockElements,
            CollectionAccumulator<String> devices, int shards, LongAccumulator samplesDone,
            DoubleAccumulator forwardBackward, boolean narrow, String destination) {
        FailureInjection.maybeFail("importance");
        TaskContext tc = TaskContext.get();
        devices.add("executor " + SparkEnv.get().executorId() + " partition " + tc.partitionId() + " on "
                + TaskDevice.current(ref.cpuOnly()) + (TaskDevice.gpuAddress() == null ? ""
                : " (assigned gpu " + TaskDevice.gpuAddress() + ")"));
        if (!it.hasNext()) {
            return java.util.Collections.emptyIterator();
        }
        int shardIndex = tc.partitionId();
        LlamaModel model = ExecutorModels.get(ref);
        List<TokenSample> mine = new ArrayList<>();
        it.forEachRemaining(mine::add); // token ids only; knowing the count gives the progress lines a total
        ShardProgress progress = new ShardProgress(shardIndex, shards, mine.size());
        GradientAccumulator acc = new GradientAccumulator(model, criterion, members);
        ShardBlocks blocks = new ShardBlocks(acc, model, criterion, members, shardIndex, shards, blockElements,
                narrow, destination);
        tc.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> blocks.close());
        try {
            long passStarted = System.nanoTime();
            for (int from = 0; from < mine.size(); from += microBatch) {
                List<TokenSample> batch = mine.subList(from, Math.min(mine.size(), from + microBatch));
                acc.add(Batches.pack(batch, padId));
                progress.done(batch.size(), acc.tokens());
                samplesDone.add(batch.size());
            }
            forwardBackward.add((System.nanoTime() - passStarted) / 1e9);
        } catch (RuntimeException e) {
            blocks.close();
            throw e;
        }
        return blocks;
    }

    /**
     * A shard's output, computed lazily: the counts record, then each member's blocks in (member, block) order.
     * Closes the accumulator after the last block (or when the task ends, whichever comes first).
     */
    private static final class ShardBlocks implements Iterator<Tuple2<Tuple2<Long, Integer>, PartialBlock>> {
        private final GradientAccumulator acc;
        private final LlamaModel model;
        private final Criterion criterion;
        private final List<Member> members;
        private final int shard;
        private final int blockElements;
        private final boolean narrow;
        private boolean countsSent;
        private int member;
        private int block;
        private int row;
        private boolean closed;
        private final int shards;
        /** Where the blocks go, for the log: the shuffle, or a lone shard's member vectors. */
        private final String destination;
        /** When the shuffle writer asked for the first record, and the values handed over since: for the log. */
        private long firstBlockNanos;
        private long values;

        ShardBlocks(GradientAccumulator acc, LlamaModel model, Criterion criterion, List<Member> members, int shard,
                    int shards, int blockElements, boolean narrow, String destination) {
            this.acc = acc;
            this.destination = destination;
            this.model = model;
            this.criterion = criterion;
            this.members = members;
            this.shard = shard;
            this.blockElements = blockElements;
            this.narrow = narrow;
            this.shards = shards;
        }

        @Override
        public boolean hasNext() {
            boolean more = !countsSent || member < members.size();
            if (!more) {
                close();
            }
            return more;
        }

        @Override
        public Tuple2<Tuple2<Long, Integer>, PartialBlock> next() {
            if (!hasNext()) {
                throw new java.util.NoSuchElementException();
            }
            if (!countsSent) {
                firstBlockNanos = System.nanoTime();
                countsSent = true;
                return record(COUNTS, PartialBlock.of(new double[] {acc.samples(), acc.tokens()}, false));
            }
            Member m = members.get(member);
            int[] shape = GradientAccumulator.rowsCols(model.weight(m.tensor()));
            int rowsPerBlock = rowsPerBlock(shape, blockElements);
            if (criterion == Criterion.VECTORIZE) {
                member++;
                return record(key(member - 1, 0), PartialBlock.of(acc.vectorizePartial(m, rowsPerBlock), narrow));
            }
            int r1 = Math.min(shape[0], row + rowsPerBlock);
            Tuple2<Tuple2<Long, Integer>, PartialBlock> out =
                    record(key(member, block), acc.partialBlock(m, row, r1, narrow));
            block++;
            row = r1;
            if (row >= shape[0]) {
                member++;
                block = 0;
                row = 0;
            }
            return out;
        }

        private Tuple2<Tuple2<Long, Integer>, PartialBlock> record(long key, PartialBlock block) {
            values += block.length();
            return new Tuple2<>(new Tuple2<>(key, shard), block);
        }

        synchronized void close() {
            if (!closed) {
                closed = true;
                acc.close();
                if (member >= members.size()) {
                    // at 7B a shard's partials are gigabytes: how long the hand-over took is worth a line
                    LOG.info(String.format(java.util.Locale.ROOT, "importance: shard %d/%d: partial sums of %d "
                            + "members (%,d values, %s) handed to %s in %.2f s", shard + 1, shards,
                            members.size(), values, narrow ? "float32" : "float64", destination,
                            (System.nanoTime() - firstBlockNanos) / 1e9));
                }
            }
        }
    }

    /**
     * Places the counts record alone in partition 0 (the job reads it first, with {@code lookup}, and must not sort
     * and sum blocks to do so: that would be the reduce's work done twice), and the (member, block) keys in
     * contiguous ranges of their dense order over enough further partitions that one reduce task sorts at most
     * about {@link #REDUCE_TASK_BYTES} of blocks.
     */
    static final class BlockPartitioner extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final long[] firstOrdinal;
        private final long keys;
        private final int partitions;

        private BlockPartitioner(long[] firstOrdinal, long keys, int partitions) {
            this.firstOrdinal = firstOrdinal;
            this.keys = keys;
            this.partitions = partitions;
        }

        static BlockPartitioner of(Criterion criterion, List<int[]> shapes, int blockElements, int shards,
                                   boolean narrow) {
            long[] first = new long[shapes.size()];
            long ordinal = 1; // 0 is the counts record
            long values = 0;
            for (int m = 0; m < shapes.size(); m++) {
                int[] shape = shapes.get(m);
                first[m] = ordinal;
                ordinal += criterion == Criterion.VECTORIZE ? 1
                        : (shape[0] + rowsPerBlock(shape, blockElements) - 1) / rowsPerBlock(shape, blockElements);
                values += criterion == Criterion.VECTORIZE ? Math.max(shape[0], shape[1]) : (long) shape[0] * shape[1];
            }
            long bytes = values * (narrow ? 4 : 8) * Math.max(1, shards);
            long wanted = Math.max(Math.max(1, shards), (bytes + REDUCE_TASK_BYTES - 1) / REDUCE_TASK_BYTES);
            // + 1: the counts record has a partition of its own, so reading it (lookup) reads nothing else
            return new BlockPartitioner(first, ordinal, 1 + (int) Math.min(ordinal - 1, wanted));
        }

        @Override
        public int numPartitions() {
            return partitions;
        }

        @Override
        public int getPartition(Object key) {
            long k = OrderedSums.keyOf(key);
            if (k == COUNTS) {
                return 0;
            }
            long ordinal = firstOrdinal[memberOf(k)] + blockOf(k) - 1;
            return 1 + (int) (ordinal * (partitions - 1) / (keys - 1));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof BlockPartitioner b && b.partitions == partitions && b.keys == keys
                    && java.util.Arrays.equals(b.firstOrdinal, firstOrdinal);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(firstOrdinal) * 31 + partitions;
        }
    }

    /** Shuffled bytes one reduce task sorts in memory at most (Spark's sorter spills beyond its own budget). */
    static final long REDUCE_TASK_BYTES = 256L << 20;

    /** The driver's view of the running stage, from the executors' heartbeats: at most one line per 5 seconds. */
    private static void liveProgress(long done, long total, long startedNanos, AtomicLong lastLog) {
        long now = System.nanoTime();
        long last = lastLog.get();
        if ((done < total && now - last < 5_000_000_000L) || !lastLog.compareAndSet(last, now)) {
            return;
        }
        double seconds = Math.max(1e-9, (now - startedNanos) / 1e9);
        LOG.info(String.format(java.util.Locale.ROOT, "importance: %d/%d samples over all shards, %.1f samples/s, "
                + "about %.0fs left", done, total, done / seconds, done == 0 ? 0 : seconds * (total - done) / done));
    }

    /**
     * Progress of one shard in the executor's log (the driver's console in local mode): samples done of the
     * shard's total, tokens/s and the time left, at every tenth of the shard and at its end.
     */
    static final class ShardProgress {
        private final int shard;
        private final int shards;
        private final int total;
        private final long started = System.nanoTime();
        private int done;
        private int reportedTenths;

        ShardProgress(int shard, int shards, int total) {
            this.shard = shard;
            this.shards = shards;
            this.total = total;
        }

        /** Counts {@code samples} more; returns the line logged, or null when this step logs none. */
        String done(int samples, long tokensSoFar) {
            done += samples;
            int tenths = total == 0 ? 10 : (int) (10L * done / total);
            if (tenths <= reportedTenths && done < total) {
                return null;
            }
            reportedTenths = tenths;
            double seconds = Math.max(1e-9, (System.nanoTime() - started) / 1e9);
            double left = done == 0 ? 0 : seconds * (total - done) / done;
            String line = String.format(java.util.Locale.ROOT,
                    "importance: shard %d/%d: %d/%d samples, %.0f tokens/s, about %.0fs left", shard + 1, shards, done,
                    total, tokensSoFar / seconds, left);
            LOG.info(line);
            return line;
        }
    }
}
