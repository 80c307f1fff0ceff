package dev.spruce.data;

import dev.spruce.io.Fs;
import dev.spruce.spark.ExecutorTokenizers;
import dev.spruce.tokenize.Tokenizer;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * Calibration samples for importance estimation, tokenized on the executors. Three protocols:
 * <ul>
 *   <li>{@code reference}: {@code samples} windows of {@code length} tokens, one per document, from documents
 *       of at least {@code length} tokens (tokenized with BOS), chosen with the seed; the window start is drawn
 *       per document. LLM-Pruner's defaults are 10 x 64 (llm-pruner.md §2.1). The reference draws with
 *       Python's RNG over BookCorpus rows; spruce draws uniformly among eligible documents without
 *       replacement, which is the same distribution, from a seeded content hash.</li>
 *   <li>{@code all}: every non-overlapping {@code length}-token window of every document (remainder dropped),
 *       for large calibration sets; {@code samples > 0} keeps that many, chosen with the seed.</li>
 *   <li>{@code instructions}: Alpaca records rendered with the reference template (with BOS and EOS,
 *       truncated at {@code length}), {@code samples} of them chosen with the seed (all when 0).</li>
 * </ul>
 * Selection ranks by a hash of (seed, document content), so the samples do not depend on partitioning.
 */
public final class CalibrationSet {
    /** The sampling protocol. */
    public enum Protocol {
        REFERENCE, ALL, INSTRUCTIONS;

        public static Protocol parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("calibration.protocol '" + s
                        + "' is not supported; expected reference, all or instructions");
            }
        }
    }

    /** What to build; {@code partitions <= 0} uses Spark's default parallelism. */
    public record Settings(TextSource source, Protocol protocol, int samples, int length, long seed, int partitions)
            implements Serializable {
        public Settings {
            if (length < 2) {
                throw new IllegalArgumentException("calibration.length must be at least 2 tokens, got " + length);
            }
            if (protocol == Protocol.REFERENCE && samples <= 0) {
                throw new IllegalArgumentException("calibration.samples must be positive for protocol reference, got "
                        + samples);
            }
        }
    }

    private CalibrationSet() {}

    public static Dataset<TokenSample> build(SparkSession spark, Settings s, String tokenizerPath) {
        List<TokenSample> chosen;
        switch (s.protocol()) {
            case REFERENCE -> chosen = referenceWindows(spark, s, tokenizerPath);
            case ALL -> {
                return allWindows(spark, s, tokenizerPath);
            }
            case INSTRUCTIONS -> {
                InstructionSet set = InstructionSet.load(spark, s.source(), tokenizerPath, s.length(), true, s.seed());
                if (set.usable() == 0) {
                    throw new IllegalArgumentException("calibration: " + s.source().path()
                            + " has no usable instruction record (" + set.describe() + ")");
                }
                return s.samples() > 0 ? set.samples().filter((org.apache.spark.api.java.function.FilterFunction<
                        TokenSample>) t -> t.getId() < s.samples()) : set.samples();
            }
            default -> throw new IllegalStateException();
        }
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int partitions = s.partitions() > 0 ? s.partitions() : sc.defaultParallelism();
        return spark.createDataset(sc.parallelize(chosen, Math.min(partitions, chosen.size())).rdd(),
                Encoders.bean(TokenSample.class));
    }

    /** Orders candidates by rank key, then by tokens, so ties are deterministic too. */
    static final class ByKey implements Comparator<Tuple2<Long, int[]>>, Serializable {
        @Override
        public int compare(Tuple2<Long, int[]> a, Tuple2<Long, int[]> b) {
            int c = Long.compare(a._1(), b._1());
            return c != 0 ? c : Arrays.compare(a._2(), b._2());
        }
    }

    private static List<TokenSample> referenceWindows(SparkSession spark, Settings s, String tokenizerPath) {
        int length = s.length();
        long seed = s.seed();
        JavaRDD<String> docs = s.source().documents(spark).javaRDD();
        String tokenizer = Fs.absolute(tokenizerPath); // absolute here, on the driver
        JavaRDD<Tuple2<Long, int[]>> windows = docs.mapPartitions(it -> {
            Tokenizer tok = ExecutorTokenizers.get(tokenizer);
            List<Tuple2<Long, int[]>> out = new ArrayList<>();
            while (it.hasNext()) {
                String text = it.next();
                int[] ids = tok.encode(text, true);
                if (ids.length < length) {
                    continue;
                }
                long docHash = ContentKeys.hash(text);
                int start = new SplittableRandom(ContentKeys.mix(seed, docHash, 1)).nextInt(ids.length - length + 1);
                out.add(new Tuple2<>(ContentKeys.mix(seed, docHash, 0), Arrays.copyOfRange(ids, start, start + length)));
            }
            return out.iterator();
        });
        List<Tuple2<Long, int[]>> top = windows.takeOrdered(s.samples(), new ByKey());
        if (top.size() < s.samples()) {
            long documents = docs.count();
            if (documents == 0) {
                throw new IllegalArgumentException("calibration: " + s.source().path() + " has no documents");
            }
            throw new IllegalArgumentException("calibration: only " + top.size() + " of the " + documents
                    + " documents in " + s.source().path() + " have at least " + length + " tokens; protocol reference "
                    + "needs " + s.samples() + " (lower calibration.samples or calibration.length)");
        }
        List<TokenSample> out = new ArrayList<>();
        for (int i = 0; i < top.size(); i++) {
            out.add(TokenSample.of(i, top.get(i)._2()));
        }
        return out;
    }

    private static Dataset<TokenSample> allWindows(SparkSession spark, Settings s, String tokenizerPath) {
        int length = s.length();
        long seed = s.seed();
        String tokenizer = Fs.absolute(tokenizerPath); // absolute here, on the driver
        JavaRDD<Tuple2<Long, int[]>> windows = s.source().documents(spark).javaRDD().mapPartitions(it -> {
            Tokenizer tok = ExecutorTokenizers.get(tokenizer);
            List<Tuple2<Long, int[]>> out = new ArrayList<>();
            while (it.hasNext()) {
                String text = it.next();
                int[] ids = tok.encode(text, true);
                long docHash = ContentKeys.hash(text);
                for (int w = 0; (w + 1) * length <= ids.length; w++) {
                    out.add(new Tuple2<>(ContentKeys.mix(seed, docHash, w),
                            Arrays.copyOfRange(ids, w * length, (w + 1) * length)));
                }
            }
            return out.iterator();
        });
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int partitions = s.partitions() > 0 ? s.partitions() : sc.defaultParallelism();
        JavaRDD<TokenSample> samples;
        if (s.samples() > 0) {
            List<Tuple2<Long, int[]>> top = windows.takeOrdered(s.samples(), new ByKey());
            List<TokenSample> list = new ArrayList<>();
            for (int i = 0; i < top.size(); i++) {
                list.add(TokenSample.of(i, top.get(i)._2()));
            }
            if (list.isEmpty()) {
                throw noWindows(s);
            }
            samples = sc.parallelize(list, Math.min(partitions, list.size()));
        } else {
            samples = windows.sortBy(Tuple2::_1, true, partitions).zipWithIndex()
                    .map(t -> TokenSample.of(t._2(), t._1()._2()));
        }
        Dataset<TokenSample> out = spark.createDataset(samples.rdd(), Encoders.bean(TokenSample.class));
        if (s.samples() <= 0 && out.isEmpty()) {
            throw noWindows(s);
        }
        return out;
    }

    private static IllegalArgumentException noWindows(Settings s) {
        return new IllegalArgumentException("calibration: no document in " + s.source().path() + " has "
                + s.length() + " tokens, so protocol all found no window (lower calibration.length)");
    }
}
