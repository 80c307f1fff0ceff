package dev.spruce.pipeline;

import dev.spruce.data.CalibrationSet;
import dev.spruce.data.TextSource;
import dev.spruce.data.TokenSample;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.ModelRef;
import dev.spruce.tokenize.HfTokenizer;
import dev.spruce.train.FullTrainable;
import dev.spruce.train.TrainResult;
import dev.spruce.train.TrainSettings;
import dev.spruce.train.Trainer;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a LLaMA from scratch with the distributed trainer (all weights trainable): every non-overlapping
 * window of the corpus, then the model with the best validation loss saved in Hugging Face layout with its
 * tokenizer. The initial weights are written first, so executors can load a base model like any other.
 */
public final class PretrainJob {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");

    /** What pre-training needs. */
    public record Settings(TextSource corpus, String tokenizer, int length, LlamaConfig.Builder architecture,
                           String dtype, DType saveDtype, String out, String workDir, long initSeed,
                           TrainSettings train) {}

    /** The trained model and its training record. */
    public record Outcome(Path model, LlamaConfig config, TrainResult result, long windows) {}

    private PretrainJob() {}

    public static Outcome run(SparkSession spark, Settings s) {
        Path tokenizerDir = Fs.path(s.tokenizer());
        LlamaConfig config;
        try (HfTokenizer tok = HfTokenizer.load(tokenizerDir)) {
            config = s.architecture().vocabSize(tok.vocabSize()).maxPositionEmbeddings(s.length())
                    .bosTokenId(tok.bosId()).eosTokenIds(tok.eosId()).padTokenId(tok.padId())
                    .torchDtype("float32").build();
        }
        LOG.info("pretrain: {} with {} parameters", config, config.parameterCount());
        Dataset<TokenSample> windows = CalibrationSet.build(spark, new CalibrationSet.Settings(s.corpus(),
                CalibrationSet.Protocol.ALL, 0, s.length(), s.train().seed(), s.train().partitions()), s.tokenizer())
                .cache();
        long count = windows.count();
        LOG.info("pretrain: {} windows of {} tokens ({} tokens) from {}", count, s.length(), count * s.length(),
                s.corpus().path());
        FullTrainable trainable = new FullTrainable(config);
        Map<String, double[]> initial = trainable.initialValues(s.initSeed());
        Path init = new Path(Fs.path(s.workDir()), "init");
        if (!Fs.exists(init)) {
            ModelFiles.write(init, config, WeightSource.of(config, initial), DType.F32, tokenizerDir, false);
        }
        ModelRef initialModel = new ModelRef(init.toString(), s.dtype(), false);
        Trainer trainer = new Trainer(spark, initialModel, trainable, s.train(),
                new Path(Fs.path(s.workDir()), "train"));
        TrainResult result;
        try {
            result = trainer.train(windows, initial);
        } finally {
            ExecutorModels.releaseEverywhere(spark, initialModel);
        }
        Map<String, double[]> best = result.bestParameters() != null ? result.bestParameters() : result.parameters();
        Path out = Fs.path(s.out());
        ModelFiles.write(out, config.toBuilder().torchDtype(ModelFiles.torchDtype(s.saveDtype())).build(),
                WeightSource.of(config, best), s.saveDtype(), tokenizerDir, true);
        windows.unpersist();
        LOG.info("pretrain: {} steps, {} tokens, best validation loss {} at step {}; model in {}", result.steps(),
                result.tokens(), result.bestValidationLoss(), result.bestStep(), out);
        return new Outcome(out, config, result, count);
    }
}
