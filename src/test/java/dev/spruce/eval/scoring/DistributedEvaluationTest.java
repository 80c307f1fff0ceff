package dev.spruce.eval.scoring;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.eval.tasks.CharTokenizer;
import dev.spruce.eval.tasks.LoglikelihoodRequest;
import dev.spruce.eval.tasks.McDoc;
import dev.spruce.eval.tasks.McFormat;
import dev.spruce.eval.tasks.McRequestBuilder;
import dev.spruce.eval.tasks.McTask;
import dev.spruce.eval.tasks.McTaskLoader;
import dev.spruce.eval.tasks.PerplexityProtocol;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TensorNames;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.TestSpark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scoring on Spark: the same numbers as one process, for any partitioning, and known answers on built models. */
class DistributedEvaluationTest {
    private static final int VOCAB = 259;
    private static final LlamaConfig CONFIG = TinyModels.builder(2, 4, 2).vocabSize(VOCAB).build();

    @TempDir
    static Path dir;
    static SparkSession spark;
    static final List<ModelRef> written = new ArrayList<>();

    @BeforeAll
    static void startSpark() {
        spark = TestSpark.session();
    }

    @AfterAll
    static void releaseModels() {
        written.forEach(ref -> new DistributedEvaluation(spark, ref, 0, 1).release());
    }

    private static ModelRef write(String name, Map<String, double[]> weights) {
        String path = dir.resolve(name).toString();
        ModelFiles.write(Fs.path(path), CONFIG, WeightSource.of(CONFIG, weights), DType.F64, null, false);
        ModelRef ref = new ModelRef(path, "float64", true);
        written.add(ref);
        return ref;
    }

    @Test
    void uniformLogitsHavePerplexityEqualToTheVocabularySize() {
        Map<String, double[]> weights = TinyModels.randomWeights(CONFIG, 21);
        Arrays.fill(weights.get(TensorNames.LM_HEAD), 0.0);
        ModelRef ref = write("uniform", weights);
        List<PerplexityWindow> windows = PerplexityProtocol.nonOverlapping(16)
                .windows(TinyModels.randomIds(CONFIG, 1, 100, 4)[0]);
        PerplexityResult result = new DistributedEvaluation(spark, ref, 2, 64).perplexity(windows);
        assertEquals(6 * 15, result.count(), "6 windows of 16 tokens score 15 each");
        assertEquals(VOCAB, result.perplexity(), 1e-9 * VOCAB);
    }

    @Test
    void twoAndFourPartitionsEqualTheSingleNode() throws IOException {
        ModelRef ref = write("random", TinyModels.randomWeights(CONFIG, 22));
        List<PerplexityWindow> windows = PerplexityProtocol.sliding(16, 6)
                .windows(TinyModels.randomIds(CONFIG, 1, 75, 5)[0]);
        McTask task = new McTask("story", McFormat.GENERIC);
        Path file = Files.write(dir.resolve("story.jsonl"), List.of(
                "{\"context\": \"The cat sat on the\", \"choices\": [\"mat\", \"moon\", \"dog house\"], \"label\": 0}",
                "{\"context\": \"Water boils at one hundred\", \"choices\": [\"degrees\", \"cats\"], \"label\": 0}",
                "{\"context\": \"\", \"choices\": [\"a\", \"bb\", \"ccc\", \"dddd\"], \"label\": 3}",
                "{\"context\": \"One, two, three,\", \"choices\": [\"four\", \"five\"], \"label\": 0}"));
        List<McDoc> docs = McTaskLoader.load(task, Fs.path(file.toString())).docs();
        List<LoglikelihoodRequest> requests = new McRequestBuilder(new CharTokenizer(), 64).requests(docs);

        PerplexityResult singlePerplexity;
        List<ChoiceLoglikelihood> singleChoices;
        try (LlamaModel model = ModelFiles.load(Fs.path(ref.path()), DataType.FLOAT64, Device.cpu())) {
            LoglikelihoodScorer scorer = new LoglikelihoodScorer(model, 40);
            singlePerplexity = scorer.perplexity(windows);
            singleChoices = scorer.loglikelihoods(requests);
        }
        TaskMetrics singleMetrics = McScorer.score(task, docs, singleChoices);
        for (int partitions : new int[] {2, 4}) {
            DistributedEvaluation distributed = new DistributedEvaluation(spark, ref, partitions, 64);
            PerplexityResult p = distributed.perplexity(windows);
            assertEquals(singlePerplexity.count(), p.count());
            assertEquals(74, p.count(), "every token but the first");
            assertEquals(singlePerplexity.sumNll(), p.sumNll(), 1e-9 * Math.abs(singlePerplexity.sumNll()));

            List<ChoiceLoglikelihood> choices = distributed.loglikelihoods(requests);
            assertEquals(11, choices.size());
            for (int i = 0; i < choices.size(); i++) {
                assertEquals(singleChoices.get(i).docKey(), choices.get(i).docKey());
                assertEquals(singleChoices.get(i).choiceIndex(), choices.get(i).choiceIndex());
                assertEquals(singleChoices.get(i).loglikelihood(), choices.get(i).loglikelihood(), 1e-9,
                        partitions + " partitions, request " + i);
            }
            assertEquals(singleMetrics, McScorer.score(task, docs, choices), partitions + " partitions");
        }
    }

    /**
     * Every block outputs zero (zero o_proj and down_proj), every embedding is the first unit vector, and only
     * the lm_head row of 'x' is non-zero: after RMSNorm, 'x' gets logit 5 * sqrt(hidden) = 20 whatever the context,
     * every other token 0.
     */
    @Test
    void aModelThatAlwaysPrefersXGetsAccuracyOneWhereXIsRightAndZeroWhereItIsWrong() throws IOException {
        Map<String, double[]> weights = TinyModels.randomWeights(CONFIG, 23);
        for (int l = 0; l < CONFIG.numHiddenLayers(); l++) {
            Arrays.fill(weights.get(TensorNames.layer(l, TensorNames.O)), 0.0);
            Arrays.fill(weights.get(TensorNames.layer(l, TensorNames.DOWN)), 0.0);
        }
        int hidden = CONFIG.hiddenSize();
        double[] embedding = weights.get(TensorNames.EMBED);
        Arrays.fill(embedding, 0.0);
        for (int v = 0; v < VOCAB; v++) {
            embedding[v * hidden] = 1.0;
        }
        Arrays.fill(weights.get(TensorNames.FINAL_NORM), 1.0);
        double[] head = weights.get(TensorNames.LM_HEAD);
        Arrays.fill(head, 0.0);
        head[CharTokenizer.id('x') * hidden] = 5.0;
        ModelRef ref = write("prefers-x", weights);

        McTask right = new McTask("x-is-right", McFormat.GENERIC);
        McTask wrong = new McTask("x-is-wrong", McFormat.GENERIC);
        Path rightFile = Files.write(dir.resolve("right.jsonl"), List.of(
                "{\"context\": \"Pick one:\", \"choices\": [\"xx\", \"ab\"], \"label\": 0}",
                "{\"context\": \"Another\", \"choices\": [\"cd\", \"ef\", \"xx\"], \"label\": 2}",
                "{\"context\": \"Third\", \"choices\": [\"gh\", \"xx\"], \"label\": 1}"));
        Path wrongFile = Files.write(dir.resolve("wrong.jsonl"), List.of(
                "{\"context\": \"Pick one:\", \"choices\": [\"xx\", \"ab\"], \"label\": 1}",
                "{\"context\": \"Another\", \"choices\": [\"cd\", \"ef\", \"xx\"], \"label\": 0}",
                "{\"context\": \"Third\", \"choices\": [\"gh\", \"xx\"], \"label\": 0}"));
        McRequestBuilder builder = new McRequestBuilder(new CharTokenizer(), 64);
        DistributedEvaluation scoring = new DistributedEvaluation(spark, ref, 2, 64);
        for (Object[] taskAndFile : new Object[][] {{right, rightFile, 1.0}, {wrong, wrongFile, 0.0}}) {
            McTask task = (McTask) taskAndFile[0];
            List<McDoc> docs = McTaskLoader.load(task, Fs.path(taskAndFile[1].toString())).docs();
            TaskMetrics metrics = McScorer.score(task, docs, scoring.loglikelihoods(builder.requests(docs)));
            assertEquals(3, metrics.docs());
            assertEquals((double) taskAndFile[2], metrics.acc(), task.name() + " acc");
            assertEquals((double) taskAndFile[2], metrics.accNorm(), task.name() + " acc_norm");
        }
    }
}
