package dev.spruce.bench;

import dev.spruce.data.TokenSample;
import dev.spruce.lora.LoraSettings;
import dev.spruce.model.LlamaConfig;
import dev.spruce.spark.ModelRef;
import dev.spruce.train.FullTrainable;
import dev.spruce.train.LearningRateSchedule;
import dev.spruce.train.LoraTrainable;
import dev.spruce.train.TrainResult;
import dev.spruce.train.TrainSettings;
import dev.spruce.train.Trainable;
import dev.spruce.train.Trainer;
import dev.spruce.train.TrainingMetrics;
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
 * The data-parallel trainer on a random model and random tokens: tokens per second and the per-step time
 * split into compute (the slowest task), gradient reduce, broadcast of the parameters and the driver's
 * optimizer step.
 */
public final class TrainBenchmark {
    private TrainBenchmark() {}

    /** The workload; {@code lora} false trains every weight. */
    public record Settings(boolean lora, int steps, int globalBatch, int microBatch, int length, int partitions,
                           long seed) {}

    public static Map<String, Object> run(SparkSession spark, ModelRef ref, LlamaConfig config, Settings s, Path out) {
        SplittableRandom random = new SplittableRandom(s.seed());
        List<TokenSample> samples = new ArrayList<>();
        for (int i = 0; i < s.steps() * s.globalBatch(); i++) {
            int[] ids = new int[s.length()];
            for (int t = 0; t < ids.length; t++) {
                ids[t] = random.nextInt(config.vocabSize());
            }
            samples.add(TokenSample.of(i, ids));
        }
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Trainable trainable = s.lora() ? new LoraTrainable(config, LoraSettings.reference()) : new FullTrainable(config);
        TrainSettings settings = TrainSettings.builder().globalBatch(s.globalBatch()).microBatch(s.microBatch())
                .epochs(1).maxSteps(s.steps()).learningRate(1e-4).warmupSteps(0).schedule(LearningRateSchedule.CONSTANT)
                .validationSize(0).evalEvery(Long.MAX_VALUE / 2).saveEvery(Long.MAX_VALUE / 2).seed(s.seed())
                .partitions(s.partitions()).build();
        long started = System.nanoTime();
        TrainResult r = new Trainer(spark, ref, trainable, settings, out).train(
                spark.createDataset(sc.parallelize(samples, s.partitions()).rdd(), Encoders.bean(TokenSample.class)));
        double wall = (System.nanoTime() - started) / 1e9;
        double steps = r.steps();
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("trainable", s.lora() ? "lora r8" : "all weights");
        row.put("parameters", trainable.shapes().values().stream().mapToLong(TrainBenchmark::numel).sum());
        row.put("partitions", s.partitions());
        row.put("steps", r.steps());
        row.put("tokens/s", r.tokens() / (r.timings().compute() + r.timings().reduce() + r.timings().broadcast()
                + r.timings().optimizer()));
        row.put("step s", (r.timings().compute() + r.timings().reduce() + r.timings().broadcast()
                + r.timings().optimizer()) / steps);
        // PyTorch-style step timings report a median over steps; the mean above carries every slow outlier
        row.put("median step s", Median.of(r.metrics().rows().stream().mapToDouble(TrainingMetrics.Row::seconds)
                .toArray()));
        row.put("compute s/step", r.timings().compute() / steps);
        row.put("reduce s/step", r.timings().reduce() / steps);
        row.put("broadcast s/step", r.timings().broadcast() / steps);
        row.put("optimizer s/step", r.timings().optimizer() / steps);
        row.put("wall s", wall);
        return row;
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }
}
