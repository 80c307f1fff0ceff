package dev.spruce.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.spruce.data.CollaborativePrompt;
import dev.spruce.eval.report.EvalReport;
import dev.spruce.eval.scoring.ChoiceLoglikelihood;
import dev.spruce.eval.scoring.DistributedEvaluation;
import dev.spruce.eval.scoring.LoglikelihoodScorer;
import dev.spruce.eval.scoring.ModelResult;
import dev.spruce.eval.scoring.PerplexityResult;
import dev.spruce.eval.tasks.LoglikelihoodRequest;
import dev.spruce.eval.tasks.McFormat;
import dev.spruce.eval.tasks.McRequestBuilder;
import dev.spruce.eval.tasks.PerplexityProtocol;
import dev.spruce.eval.tasks.PerplexityWindow;
import dev.spruce.eval.tasks.PromptPrefix;
import dev.spruce.io.Fs;
import dev.spruce.model.Generator;
import dev.spruce.model.LlamaConfig;
import dev.spruce.model.LlamaModel;
import dev.spruce.model.ModelFiles;
import dev.spruce.model.TinyModels;
import dev.spruce.model.WeightSource;
import dev.spruce.model.safetensors.DType;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.TestSpark;
import dev.spruce.tokenize.HfTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prompt prefix on real models: the bundled demo model (trained, 256 positions) with a short prefix file, and
 * a random model with the demo tokenizer and 2048 positions for the shipped 273- and 277-token prefixes. The
 * prefix changes log-likelihoods but not the number of scored tokens, and the numbers equal sequences built by
 * hand from the prefix text and scored in this process.
 */
class PromptPrefixEvaluationTest {
    static final Path DEMO = Path.of("models/spruce-tiny");
    static final String SETTING = EvaluateSettings.PROMPT_PREFIX_SETTING;
    static final List<String> CORPUS = List.of(
            "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of",
            "foolishness. The old man walked slowly along the river, counting the boats that passed him by.",
            "She opened the letter, read it twice, and then put it carefully back in its envelope.",
            "In the morning the village was quiet, and the fields were white with frost. Nobody came down the road.",
            "When the rain stopped the children ran out into the garden and looked for worms under the stones.");

    @TempDir
    static Path dir;
    static SparkSession spark;
    static Path corpus;
    static Path task;
    static Path wideModel;
    static final List<ModelRef> loaded = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        spark = TestSpark.session();
        corpus = Files.write(dir.resolve("held.txt"), CORPUS);
        task = Files.write(dir.resolve("story.jsonl"), List.of(
                "{\"context\": \"The cat sat on the\", \"choices\": [\"mat\", \"moon\"], \"label\": 0}",
                "{\"context\": \"Water boils at one hundred\", \"choices\": [\"degrees\", \"cats\"], \"label\": 0}",
                "{\"context\": \"One, two, three,\", \"choices\": [\"four\", \"five\", \"seven\"], \"label\": 0}"));
        // A random model that reads the demo tokenizer's ids and has room for the shipped prefixes.
        LlamaConfig config = TinyModels.builder(2, 4, 2).vocabSize(4096).maxPositionEmbeddings(2048).build();
        wideModel = dir.resolve("wide");
        ModelFiles.write(Fs.path(wideModel.toString()), config, WeightSource.of(config, TinyModels.randomWeights(config, 5)),
                DType.F64, null, false);
        for (String f : List.of(HfTokenizer.TOKENIZER_FILE, HfTokenizer.TOKENIZER_CONFIG_FILE)) {
            Files.copy(DEMO.resolve(f), wideModel.resolve(f));
        }
    }

    @AfterAll
    static void release() {
        loaded.forEach(ref -> new DistributedEvaluation(spark, ref, 0, 1).release());
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    /** The prefixed windows built by hand: BOS, prefix, the rest of the first window; prefix + window after it. */
    private static List<LoglikelihoodScorer.Sequence> byHand(List<PerplexityWindow> plain, int[] prefix) {
        List<LoglikelihoodScorer.Sequence> out = new ArrayList<>();
        for (int i = 0; i < plain.size(); i++) {
            int[] ids = plain.get(i).ids();
            int[] tokens = i == 0 ? concat(new int[] {ids[0]}, prefix, Arrays.copyOfRange(ids, 1, ids.length))
                    : concat(prefix, ids);
            out.add(new LoglikelihoodScorer.Sequence(tokens, plain.get(i).firstScored() + prefix.length));
        }
        return out;
    }

    private static double sumNll(List<LoglikelihoodScorer.Score> scores) {
        double sum = 0;
        for (LoglikelihoodScorer.Score s : scores) {
            sum -= s.logLikelihood();
        }
        return sum;
    }

    /** The demo model, scored on Spark with and without a prefix read from a user's file. */
    @Test
    void aPrefixChangesTheDemoModelsLogLikelihoodsButNotTheScoredTokenCount() throws Exception {
        Path file = Files.writeString(dir.resolve("prefix.txt"), "###System Instruction:\nYou have undergone pruning. "
                + "Keep your answers as good as before.\n\n###Input:\n");
        String text = CollaborativePrompt.evaluationPrefix(file.toString(), SETTING);
        ModelRef ref = new ModelRef(DEMO.toString(), "float32", true);
        loaded.add(ref);
        DistributedEvaluation scoring = new DistributedEvaluation(spark, ref, 2, 512);
        try (HfTokenizer tok = HfTokenizer.load(Fs.path(DEMO.toString()));
             LlamaModel model = ModelFiles.load(Fs.path(DEMO.toString()), DataType.FLOAT32, Device.cpu())) {
            int[] prefixIds = tok.encode(Files.readString(file), false);
            PromptPrefix prefix = new PromptPrefix("file", tok.encode(text, false));
            assertEquals(Arrays.toString(prefixIds), Arrays.toString(prefix.ids()));
            PerplexityProtocol protocol = PerplexityProtocol.nonOverlapping(32);
            List<PerplexityWindow> plain = protocol.windows(CORPUS, tok);
            PerplexityResult without = scoring.perplexity(plain);
            PerplexityResult with = scoring.perplexity(protocol.windows(CORPUS, tok, prefix));
            assertEquals(plain.size() * 31L, without.count());
            assertEquals(without.count(), with.count(), "the prefix is never scored");
            assertTrue(Math.abs(with.sumNll() - without.sumNll()) > 1e-3 * without.sumNll(),
                    "with " + with + ", without " + without);
            double expected = sumNll(new LoglikelihoodScorer(model, 512).score(byHand(plain, prefixIds)));
            assertEquals(expected, with.sumNll(), 1e-4 * expected);

            List<LoglikelihoodRequest> none = new ArrayList<>();
            List<LoglikelihoodRequest> prefixed = new ArrayList<>();
            List<LoglikelihoodScorer.Sequence> hand = new ArrayList<>();
            String[][] choices = {{"The cat sat on the", " mat"}, {"The cat sat on the", " moon"}, {"", " Once"}};
            for (int i = 0; i < choices.length; i++) {
                none.add(new McRequestBuilder(tok, 256).request("story#" + i, 0, choices[i][0], choices[i][1]));
                prefixed.add(new McRequestBuilder(tok, 256, prefix).request("story#" + i, 0, choices[i][0], choices[i][1]));
                int[] context = choices[i][0].isEmpty() ? new int[] {tok.eosId()} : tok.encode(choices[i][0], false);
                hand.add(new LoglikelihoodScorer.Sequence(concat(prefixIds, context, tok.encode(choices[i][1], false)),
                        prefixIds.length + context.length));
            }
            List<ChoiceLoglikelihood> a = scoring.loglikelihoods(none);
            List<ChoiceLoglikelihood> b = scoring.loglikelihoods(prefixed);
            List<LoglikelihoodScorer.Score> c = new LoglikelihoodScorer(model, 512).score(hand);
            for (int i = 0; i < choices.length; i++) {
                assertTrue(Math.abs(a.get(i).loglikelihood() - b.get(i).loglikelihood()) > 1e-4, "choice " + i);
                assertEquals(c.get(i).logLikelihood(), b.get(i).loglikelihood(), 1e-4 * Math.abs(c.get(i).logLikelihood()));
                assertEquals(none.get(i).continuationIds().length, c.get(i).scoredTokens());
            }
        }
    }

    private static EvaluateSettings settings(String prefix, int seqLen, boolean withTask) {
        return new EvaluateSettings(
                List.of(new EvaluateSettings.PerplexityDataset("held", corpus.toString(), "text", "text", seqLen, 0)),
                withTask ? List.of(new EvaluateSettings.TaskFile("story", task.toString(), McFormat.GENERIC)) : List.of(),
                0, 1024, 2, "float64", true, new EvaluateSettings.Generation(List.of(), new Generator.Settings(0, 0, 1, 1)),
                prefix);
    }

    /** spruce.evaluate.prompt-prefix end to end: none, training and past give three results, training as built by hand. */
    @Test
    void theShippedPrefixesReachEveryRequestOfAnEvaluation() throws Exception {
        NamedModel model = new NamedModel("wide", wideModel.toString());
        loaded.add(new ModelRef(wideModel.toString(), "float64", true));
        Evaluation.Outcome noneOutcome = Evaluation.evaluate(spark, settings("none", 32, true), List.of(model));
        Evaluation.Outcome trainingOutcome = Evaluation.evaluate(spark, settings("training", 32, true), List.of(model));
        ModelResult none = noneOutcome.models().get(0);
        ModelResult training = trainingOutcome.models().get(0);
        ModelResult past = Evaluation.run(spark, settings("past", 32, true), List.of(model)).get(0);
        // The report says which prefix its numbers were measured with, and says nothing without one.
        EvalReport withPrefix = new EvalReport(trainingOutcome.models(), trainingOutcome.skipped(),
                trainingOutcome.promptPrefix());
        assertTrue(withPrefix.json().contains("\"promptPrefix\" : \"training\""), withPrefix.json());
        assertTrue(withPrefix.markdown().contains("began with the prompt prefix `training`"), withPrefix.markdown());
        EvalReport without = new EvalReport(noneOutcome.models(), noneOutcome.skipped(), noneOutcome.promptPrefix());
        assertEquals(new EvalReport(noneOutcome.models(), noneOutcome.skipped()).json(), without.json());
        assertFalse(without.json().contains("promptPrefix") || without.markdown().contains("prompt prefix"));
        double[] ppl = {none.perplexities().get("held"), training.perplexities().get("held"), past.perplexities().get("held")};
        assertTrue(Math.abs(ppl[0] - ppl[1]) > 1e-6 * ppl[0] && Math.abs(ppl[1] - ppl[2]) > 1e-6 * ppl[1],
                Arrays.toString(ppl));
        for (ModelResult r : List.of(training, past)) {
            assertEquals(none.tasks().get(0).docs(), r.tasks().get(0).docs());
        }
        try (HfTokenizer tok = HfTokenizer.load(Fs.path(wideModel.toString()));
             LlamaModel m = ModelFiles.load(Fs.path(wideModel.toString()), DataType.FLOAT64, Device.cpu())) {
            int[] prefix = tok.encode(Files.readString(Path.of("src/main/resources/dev/spruce/prompts/compresso-eval-"
                    + "training.txt")), false);
            assertEquals(273, prefix.length);
            List<PerplexityWindow> plain = PerplexityProtocol.nonOverlapping(32).windows(CORPUS, tok);
            List<LoglikelihoodScorer.Score> scores = new LoglikelihoodScorer(m, 1024).score(byHand(plain, prefix));
            long count = scores.stream().mapToLong(LoglikelihoodScorer.Score::scoredTokens).sum();
            assertEquals(plain.size() * 31L, count);
            double expected = Math.exp(sumNll(scores) / count);
            assertEquals(expected, ppl[1], 1e-9 * expected);
            double plainPpl = new LoglikelihoodScorer(m, 1024).perplexity(plain).perplexity();
            assertEquals(plainPpl, ppl[0], 1e-9 * plainPpl, "none is today's protocol");
        }
    }

    /** The demo model reads 256 positions: a 273-token prefix is refused before any Spark job, naming the setting. */
    @Test
    void aPrefixLongerThanTheModelsPositionsIsRefusedBeforeAnySparkJob() {
        NamedModel model = new NamedModel("demo", DEMO.toString());
        IllegalArgumentException[] e = new IllegalArgumentException[2];
        int jobs = TestSpark.jobsStartedDuring(() -> {
            e[0] = assertThrows(IllegalArgumentException.class,
                    () -> Evaluation.run(spark, settings("training", 32, false), List.of(model)));
            e[1] = assertThrows(IllegalArgumentException.class,
                    () -> Evaluation.run(spark, settings("training", 32, true), List.of(model)));
        });
        assertEquals(0, jobs);
        String what = SETTING + " = training is 273 tokens with the tokenizer of model demo (" + DEMO + ")";
        assertEquals(what + ": perplexity held windows of seq-len 32 would be 305 tokens, more than the model's "
                + "max_position_embeddings 256; expected a prefix of at most 254 tokens", e[0].getMessage());
        assertEquals(what + ", which leaves no room for a multiple-choice request in max-length 256; expected at most "
                + "255 prefix tokens (raise spruce.evaluate.max-length or use a shorter prefix)", e[1].getMessage());
        Path notThere = dir.resolve("no-prefix.txt");
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> Evaluation.run(spark, settings(notThere.toString(), 32, false), List.of(model)));
        assertEquals(SETTING + " = " + notThere + ": no such file; expected none, training, past or the path of a "
                + "prompt file", missing.getMessage());
        assertFalse(missing.getMessage().contains("Exception"));
    }
}
