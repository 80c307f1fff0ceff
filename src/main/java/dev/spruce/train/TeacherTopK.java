package dev.spruce.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.spruce.data.Batches;
import dev.spruce.data.TokenSample;
import dev.spruce.io.AtomicDirectory;
import dev.spruce.io.Fs;
import dev.spruce.model.DistillationLoss;
import dev.spruce.model.Djl;
import dev.spruce.model.ForwardHooks;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.TokenBatch;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.ModelRef;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Precomputes the teacher's top-k next-token log-probabilities (under the distillation temperature) for every
 * scored position of every sample, once, on the executors, and writes the samples with their targets as Parquet;
 * training then streams them from there and needs no teacher on the executors ({@link Objective.TopKDistillation}).
 * The directory is written atomically, so a finished precompute is reused on resume.
 */
public final class TeacherTopK {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    private static final String PARQUET = "samples.parquet";
    /** What the targets were made from: targets made with other settings are recomputed, never reused. */
    private static final String ABOUT = "targets.json";

    private TeacherTopK() {}

    /** The samples with their teacher targets, computed into {@code out} unless a finished copy is there. */
    public static Dataset<TokenSample> attach(SparkSession spark, Dataset<TokenSample> samples, ModelRef teacher, int k,
                                              double temperature, int microBatch, int padId, Path out) {
        Path parquet = new Path(out, PARQUET);
        Path about = new Path(out, ABOUT);
        String made = "{\"teacher\": \"" + teacher.path() + "\", \"dtype\": \"" + teacher.dataType() + "\", \"k\": " + k
                + ", \"temperature\": " + temperature + ", \"samples\": " + samples.count() + "}\n";
        if (Fs.exists(parquet) && Fs.exists(about) && Fs.readString(about).equals(made)) {
            LOG.info("recover: teacher top-{} targets already in {}", k, out);
        } else {
            long started = System.nanoTime();
            spark.sparkContext().setJobDescription("recover: teacher top-" + k + " targets");
            JavaRDD<TokenSample> withTargets = samples.javaRDD().mapPartitions(it -> {
                LlamaModel model = ExecutorModels.get(teacher);
                List<TokenSample> done = new ArrayList<>();
                List<TokenSample> chunk = new ArrayList<>();
                while (it.hasNext()) {
                    chunk.add(it.next());
                    if (chunk.size() == microBatch || !it.hasNext()) {
                        done.addAll(targets(model, chunk, k, temperature, padId));
                        chunk = new ArrayList<>();
                    }
                }
                return done.iterator();
            });
            try (AtomicDirectory dir = new AtomicDirectory(out, true)) {
                spark.createDataset(withTargets.rdd(), Encoders.bean(TokenSample.class)).write().mode(SaveMode.ErrorIfExists)
                        .parquet(dir.resolve(PARQUET).toString());
                Fs.writeStringAtomically(dir.resolve(ABOUT), made);
                dir.commit();
            } finally {
                spark.sparkContext().setJobDescription(null);
                ExecutorModels.releaseEverywhere(spark, teacher); // training needs only the targets
            }
            LOG.info("recover: teacher top-{} targets written to {} in {}s", k, out,
                    String.format("%.1f", (System.nanoTime() - started) / 1e9));
        }
        return spark.read().parquet(parquet.toString()).as(Encoders.bean(TokenSample.class));
    }

    /** One micro-batch: the teacher's forward, then its top-k log-probabilities at each row's scored positions. */
    static List<TokenSample> targets(LlamaModel teacher, List<TokenSample> chunk, int k, double temperature,
                                     int padId) {
        TokenBatch batch = Batches.pack(chunk, padId);
        int t = batch.length();
        List<TokenSample> out = new ArrayList<>();
        try (NDManager step = teacher.manager().newSubManager();
             Djl.GradScope off = Djl.gradScope(false)) {
            float[] values = new float[0];
            long[] indices = new long[0];
            if (t >= 2) {
                NDArray logits = teacher.logits(step, batch, ForwardHooks.NONE);
                NDList top = DistillationLoss.logProbabilities(step, logits, temperature).topK(k, -1, true, true);
                values = top.get(0).toType(DataType.FLOAT32, false).toFloatArray();
                indices = top.get(1).toType(DataType.INT64, false).toLongArray();
            }
            for (int r = 0; r < chunk.size(); r++) {
                TokenSample sample = chunk.get(r);
                int n = DistillationLoss.scoredPositions(sample.getTokens().length, sample.getPromptLength());
                int[] ids = new int[n * k];
                float[] logProbs = new float[n * k];
                for (int j = 0; j < n; j++) {
                    int from = DistillationLoss.scoredPosition(r, t, sample.getPromptLength(), j) * k;
                    for (int i = 0; i < k; i++) {
                        ids[j * k + i] = Math.toIntExact(indices[from + i]);
                        logProbs[j * k + i] = values[from + i];
                    }
                }
                TokenSample copy = new TokenSample(sample.getId(), sample.getTokens(), sample.getPromptLength());
                copy.setTeacherTokens(ids);
                copy.setTeacherLogProbs(logProbs);
                out.add(copy);
            }
        }
        return out;
    }
}
