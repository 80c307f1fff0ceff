package dev.spruce.bench;

import dev.spruce.data.TokenSample;
import dev.spruce.importance.Criterion;
import dev.spruce.importance.DistributedImportance;
import dev.spruce.importance.ScoringSettings;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.safetensors.SafetensorsModel;
import dev.spruce.prune.ApplyOptions;
import dev.spruce.prune.PlanApplier;
import dev.spruce.prune.PlanSettings;
import dev.spruce.prune.Planner;
import dev.spruce.prune.PrunePlan;
import dev.spruce.scope.LayerRange;
import dev.spruce.spark.ModelRef;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

/**
 * The importance job on a random model: tokens per second, and wall time split between gradients
 * (forward/backward and partial sums, including the model load and the shuffle write, or with one partition the
 * shard's own member vectors; forward/backward alone is the shards' micro-batch loops, summed), the reduce (shuffle
 * read, sums, member vectors; with one partition only the driver's assembly of the pieces), planning and applying;
 * plus the driver JVM's peak heap (in local mode the executors share it).
 */
public final class ImportanceBenchmark {
    private ImportanceBenchmark() {}

    /** The workload. */
    public record Settings(int samples, int length, int partitions, int microBatch, Criterion criterion, long seed) {}

    public static Map<String, Object> run(SparkSession spark, ModelRef ref, LlamaConfig config, Settings s,
                                          Path workDir) {
        SplittableRandom random = new SplittableRandom(s.seed());
        List<TokenSample> samples = new ArrayList<>();
        for (int i = 0; i < s.samples(); i++) {
            int[] ids = new int[s.length()];
            for (int t = 0; t < ids.length; t++) {
                ids[t] = random.nextInt(config.vocabSize());
            }
            samples.add(TokenSample.of(i, ids));
        }
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        LayerRange all = LayerRange.all(config.numHiddenLayers());
        Path model = Fs.path(ref.path());
        resetPeaks();
        long t1 = System.nanoTime();
        DistributedImportance.Result r;
        try (SafetensorsModel st = SafetensorsModel.open(model)) {
            r = DistributedImportance.run(spark, ref, config, ModelFiles.weights(st),
                    spark.createDataset(sc.parallelize(samples, s.partitions()).rdd(), Encoders.bean(TokenSample.class)),
                    ScoringSettings.blockWise(s.criterion(), all, all), s.microBatch(), 0,
                    DistributedImportance.DEFAULT_BLOCK_ELEMENTS, samples.size());
        }
        double importance = seconds(t1);
        long t2 = System.nanoTime();
        PrunePlan plan = Planner.plan(config, r.scores(), PlanSettings.builder().ratio(0.25).layers(all).build());
        double planSeconds = seconds(t2);
        long t3 = System.nanoTime();
        PlanApplier.apply(model, plan, new Path(workDir, "pruned"), ApplyOptions.defaults().withOverwrite(true));
        double apply = seconds(t3);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("criterion", s.criterion().referenceName());
        out.put("partitions", s.partitions());
        out.put("samples", r.samples());
        out.put("tokens", r.tokens());
        out.put("importance s", importance);
        out.put("tokens/s", r.tokens() / importance);
        out.put("gradients s", r.computeSeconds());
        out.put("forward/backward s", r.forwardBackwardSeconds());
        out.put("reduce s", r.reduceSeconds());
        out.put("plan s", planSeconds);
        out.put("apply s", apply);
        out.put("peak heap MB", peakHeapBytes() / (1024.0 * 1024.0));
        return out;
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    private static void resetPeaks() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
    }

    private static long peakHeapBytes() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak;
    }
}
