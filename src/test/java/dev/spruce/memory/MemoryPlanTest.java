package dev.spruce.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.scope.LayerRange;
import java.util.List;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The estimate's terms against counts done by hand, array by array, and the check's verdicts and messages. */
class MemoryPlanTest {
    private static final LlamaConfig LLAMA_7B = LlamaConfig.read(Fs.path("conf/shapes/llama-7b.json"));
    private static final long GIB = 1L << 30;
    private static final List<String> ALL = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
            "down_proj");

    /** One GPU of 80 GiB, 64g heap, one task per GPU. */
    private static final ExecutorShape GPU_80 = new ExecutorShape(true, 80 * GIB, 64 * GIB, 8 * GIB, 1, "test");

    /** hidden 8, 2 layers, 2 heads, 1 kv head, head_dim 4, intermediate 12, vocab 10, float32 on disk. */
    private static LlamaConfig small() {
        return LlamaConfig.builder().hiddenSize(8).numHiddenLayers(2).numAttentionHeads(2).numKeyValueHeads(1)
                .headDim(4).intermediateSize(12).vocabSize(10).torchDtype("float32").build();
    }

    /** LLM-Pruner's LLaMA-7B setting: attention and MLP of layers 4..29 scored, sequences of 128 tokens. */
    private static ImportancePlan llama7b(String dtype, String criterion, int microBatch) {
        return new ImportancePlan(LLAMA_7B, dtype, criterion, microBatch, 128, new LayerRange(4, 30),
                new LayerRange(4, 30), false, 1 << 20);
    }

    private static ImportancePlan importance(LlamaConfig c, String dtype, String criterion, int microBatch, int length) {
        return new ImportancePlan(c, dtype, criterion, microBatch, length, new LayerRange(0, c.numHiddenLayers()),
                new LayerRange(0, c.numHiddenLayers()), false, 16);
    }

    @Test
    void smallConfigImportanceTermsMatchAHandCount() {
        // float32, param_first, B = 3, T = 5; every count below is elements of one array per token (x 4 bytes).
        Estimate e = importance(small(), "float32", "param_first", 3, 5)
                .estimate(new ExecutorShape(false, 0, GIB, GIB, 1, "test"));
        long norm = 3 * 8;                                   // x*x, x/rms, *weight (x itself is float32)
        long q = 8 + 4 + 8 + 8 + 8 + 8;                      // q_proj, -half, concat, *cos, *sin, + (RoPE)
        long k = 4 + 2 + 4 + 4 + 4 + 4;                      // the same for the one kv head
        long v = 4;
        long attention = norm + q + k + v + 8 + 8 + 8;       // context copy (q wide), o_proj, residual sum
        long scores = 2 * 5 * 4;                             // heads x keys x (q.k, *scale, +bias, softmax)
        long mlp = norm + 5 * 12 + 8 + 8;                    // gate, up, sigmoid, gate*sig, *up; down; residual
        long perToken = 8 + norm + 2 * (attention + scores + mlp); // embedding, final norm, 2 layers
        long activations = 4 * (15 * perToken + 3 * 5 * 5 + 2 * 3 * 5 * 4); // + attention bias + cos, sin
        assertEquals(activations, e.term("activations"));
        assertEquals(4 * 15 * (10 + 10), e.term("logits"));  // LM head output and log-softmax, vocab 10
        long scored = 2 * (8 * 8 + 8 * 4 + 8 * 4 + 8 * 8 + 3 * 8 * 12); // q, k, v, o, gate, up, down
        assertEquals(4 * scored, e.term("gradients of scored members (= G)")); // libtorch sums G in the leaves
        assertEquals(0, e.term("sum G"));
        assertEquals(0, e.term("per-step wide copies"));
        assertEquals(4 * 15 * (10 + 10 + attention + scores + mlp), e.term("backward working set"));
        assertEquals(16 * 8 * 3, e.term("host block copies")); // w, G and the partial of one 16-element block
        assertEquals(2 * 16 * 4, e.term("streamed blocks"));   // shipped as float32
        assertEquals(96 * 4, e.term("load buffer (largest tensor)")); // one direct float32 buffer
        long params = 10 * 8 * 2 + 8 + 2 * (2 * 8 + scored / 2);
        assertEquals(params, small().parameterCount());
        assertEquals(4 * params, e.term("weights"));
        assertEquals(e.total(), e.bytes(Term.Part.TENSORS) + e.bytes(Term.Part.HEAP));
    }

    @Test
    void halfPrecisionWidensNormsScoresLogitsAndSums() {
        // bfloat16: c = 2, n = 4; Fisher criteria run one sample at a time and keep Q and g*g as well.
        Estimate e = importance(small(), "bfloat16", "param_mix", 3, 5)
                .estimate(new ExecutorShape(true, GIB, GIB, GIB, 1, "test"));
        long norm = 8 * (4 + 4 + 4 + 2 + 2);                 // x wide, x*x, x/rms, narrowed, *weight
        long attention = norm + 2 * (44 + 22 + 4 + 8 + 8 + 8);
        long scores = 2 * 5 * (2 + 4 + 4 + 4 + 4 + 2);       // q.k, wide, *scale, +bias, softmax, narrowed
        long mlp = norm + 2 * (5 * 12 + 16);
        long perToken = 2 * 8 + norm + 2 * (attention + scores + mlp);
        assertEquals(5 * perToken + 4 * 5 * 5 + 2 * 2 * 5 * 4, e.term("activations")); // B = 1
        assertEquals(5 * 10 * (2 + 4 + 4), e.term("logits"));
        long scored = 2 * (64 + 32 + 32 + 64 + 3 * 96);
        assertEquals(2 * scored, e.term("gradients of scored members"));
        assertEquals(2 * 4 * scored, e.term("sums G and Q"));
        assertEquals(96 * 4 * 2, e.term("per-step wide copies and g*g")); // one tensor (gate, 8 x 12) at a time
        assertEquals(16 * 8 * 4, e.term("host block copies"));
    }

    @Test
    void llama7bWeightsInBfloat16AndItsScoredMembers() {
        assertEquals(6_738_415_616L, LLAMA_7B.parameterCount());
        ImportancePlan plan = new ImportancePlan(LLAMA_7B, "bfloat16", "param_first", 1, 128, new LayerRange(4, 30),
                new LayerRange(4, 30), false, 1 << 20);
        Estimate e = plan.estimate(GPU_80);
        assertEquals(13_476_831_232L, e.term("weights"));
        long perLayer = 4L * 4096 * 4096 + 3L * 4096 * 11008; // q, k, v, o and gate, up, down
        assertEquals(26 * perLayer * 2, e.term("gradients of scored members"));
        assertEquals(26 * perLayer * 4, e.term("sum G"));
        // Scores of one layer and one token, B = 1, T = 128: 32 heads x 128 keys x 20 bytes.
        long attention = 4096 * 16 + 2 * (12 * 4096 + 3 * 4096) + 32 * 128 * 20; // 5.5 q + 6.5 kv, context, o, +
        long mlp = 4096 * 16 + 2 * (5 * 11008 + 2 * 4096);
        long perToken = 2 * 4096 + 4096 * 16 + 32 * (attention + mlp);
        assertEquals(128 * perToken + 128 * 128 * 4 + 2 * 128 * 128 * 2, e.term("activations"));
        assertEquals(128L * 32000 * 10, e.term("logits"));
    }

    @Test
    void llama7bLoraHasThePeftParameterCount() {
        RecoveryPlan plan = new RecoveryPlan(LLAMA_7B, null, "bfloat16", false, 8, ALL, 0.05, 4, 256);
        // PEFT's trainable count for LLaMA-7B, r = 8 on all seven linear modules: 32 x 8 x (4 x 8192 + 3 x 15104).
        long lora = 32L * 8 * (4 * 8192 + 3 * 15104);
        assertEquals(19_988_480L, lora);
        Estimate e = plan.estimate(GPU_80);
        assertEquals(4 * lora, e.term("LoRA parameters")); // float32 leaves on a 16-bit model
        assertEquals(4 * lora, e.term("broadcast parameter values")); // float32 traffic
        assertEquals(8 * lora, e.term("gradient sums"));
        // widest input: down_proj's 11008; on a GPU the int64 hash and one temporary per element
        assertEquals(4L * 256 * 11008 * 16, e.term("dropout hash (int64)"));
        RecoveryPlan full = new RecoveryPlan(LLAMA_7B, null, "bfloat16", true, 8, ALL, 0.05, 4, 256);
        assertEquals(2 * 6_738_415_616L, full.estimate(GPU_80).term("gradients of every weight"));
        assertEquals(8 * 6_738_415_616L, full.estimate(GPU_80).term("gradient sums"));
    }

    @Test
    void aPlanThatCannotFitIsRefusedNamingTermsBudgetAndWhatWouldFit() {
        ImportancePlan plan = llama7b("bfloat16", "param_first", 32);
        MemoryPlanException ex = assertThrows(MemoryPlanException.class, () -> MemoryCheck.require(plan, GPU_80, 1.15));
        String m = ex.getMessage();
        assertFalse(m.contains("\n"), m);
        assertTrue(m.startsWith("memory: importance does not fit one executor (dtype bfloat16, criterion param_first, "
                + "micro-batch 32, length 128; 1 task per resident model): weights 12.55 GiB, "), m);
        assertTrue(m.contains("sum G " + gib(26L * (4L * 4096 * 4096 + 3L * 4096 * 11008) * 4)), m);
        assertTrue(m.contains(" against 80.00 GiB per GPU"), m);
        assertTrue(m.contains("x margin 1.15 = "), m);
        assertTrue(m.contains("would fit: calibration.micro-batch = "), m);
        assertTrue(m.contains("importance.criterion = l2"), m);
        assertTrue(m.endsWith("; spruce.memory.check = false skips this check"), m);
    }

    @Test
    void theSuggestedMicroBatchFitsAndTheNextOneDoesNot() {
        ImportancePlan plan = llama7b("bfloat16", "param_first", 32);
        MemoryCheck.Verdict v = MemoryCheck.check(plan, GPU_80, 1.15);
        assertFalse(v.fits());
        String change = v.wouldFit().get(0);
        assertTrue(change.startsWith("calibration.micro-batch = "), change);
        int m = Integer.parseInt(change.substring("calibration.micro-batch = ".length()));
        assertTrue(m >= 1 && m < 32, change);
        assertTrue(MemoryCheck.fits(plan.withMicroBatch(m).estimate(GPU_80), GPU_80, 1.15));
        assertFalse(MemoryCheck.fits(plan.withMicroBatch(m + 1).estimate(GPU_80), GPU_80, 1.15));
        // Independently: the estimate is linear in B at fixed T, so B_max = floor((budget/margin - A) / k).
        long e1 = plan.withMicroBatch(1).estimate(GPU_80).bytes(Term.Part.TENSORS);
        long e2 = plan.withMicroBatch(2).estimate(GPU_80).bytes(Term.Part.TENSORS);
        long k = e2 - e1;
        assertEquals((long) Math.floor((80.0 * GIB / 1.15 - (e1 - k)) / k), m);
    }

    @Test
    void aFittingPlanPasses() {
        MemoryCheck.Verdict v = MemoryCheck.require(llama7b("bfloat16", "param_first", 2), GPU_80,
                1.15);
        assertTrue(v.fits());
        assertTrue(v.wouldFit().isEmpty());
        // Weight-only criteria need nothing on executors.
        assertEquals(0, importance(LLAMA_7B, "float64", "l2", 64, 4096).estimate(GPU_80).total());
    }

    @Test
    void fullFineTuningOfLlama7bSuggestsLora() {
        RecoveryPlan full = new RecoveryPlan(LLAMA_7B, null, "bfloat16", true, 8, ALL, 0.05, 4, 256);
        MemoryPlanException ex = assertThrows(MemoryPlanException.class, () -> MemoryCheck.require(full, GPU_80, 1.15));
        assertTrue(ex.getMessage().contains("recover.trainable = lora"), ex.getMessage());
        // A resident teacher doubles the weights: on 40 GiB only the precomputed top-k targets fit.
        ExecutorShape gpu40 = new ExecutorShape(true, 40 * GIB, 64 * GIB, 8 * GIB, 1, "test");
        RecoveryPlan teacher = new RecoveryPlan(LLAMA_7B, LLAMA_7B, "bfloat16", false, 8, ALL, 0.05, 1, 256);
        MemoryCheck.Verdict v = MemoryCheck.check(teacher, gpu40, 1.15);
        assertFalse(v.fits());
        assertEquals(List.of("recover.distill.teacher-source = top-k"), v.wouldFit());
        assertEquals(2 * 13_476_831_232L, v.estimate().term("weights") + v.estimate().term("teacher weights"));
    }

    @Test
    void evaluationSuggestsWholeSequencesPerBatch() {
        LlamaConfig llama13b = LlamaConfig.read(Fs.path("conf/shapes/llama-2-13b.json"));
        assertEquals(13_015_864_320L, llama13b.parameterCount());
        ExecutorShape h100 = new ExecutorShape(true, 81559L << 20, 64 * GIB, 8 * GIB, 1, "test");
        EvaluationPlan plan = new EvaluationPlan(llama13b, "bfloat16", 2048, 128);
        MemoryCheck.Verdict v = MemoryCheck.check(plan, h100, 1.15);
        assertFalse(v.fits());
        assertEquals(List.of("evaluate.batch-tokens = 1920"), v.wouldFit()); // 15 windows of 128
        assertTrue(MemoryCheck.fits(plan.withBatchTokens(1920).estimate(h100), h100, 1.15));
    }

    @Test
    void executorShapeFromSparkSettings() {
        SparkConf cpu = new SparkConf(false).set("spark.master", "yarn").set("spark.executor.memory", "64g")
                .set("spark.executor.cores", "8").set("spark.task.cpus", "2");
        ExecutorShape s = ExecutorShape.of(cpu, false, "");
        assertFalse(s.gpu());
        assertEquals(64 * GIB - 300L * (1 << 20), s.heapBytes());
        assertEquals((long) (0.10 * 64 * GIB), s.nativeBytes()); // default overhead: 10% (above 384 MiB)
        assertEquals(4, s.tasks());
        SparkConf gpu = cpu.clone().set("spark.executor.resource.gpu.amount", "1")
                .set("spark.task.resource.gpu.amount", "1").set("spark.executor.memoryOverhead", "2048");
        ExecutorShape g = ExecutorShape.of(gpu, false, "h100-80gb");
        assertTrue(g.gpu());
        assertEquals(81559L << 20, g.gpuBytes());
        assertEquals(2048L << 20, g.nativeBytes());
        assertEquals(1, g.tasks());
        assertFalse(ExecutorShape.of(gpu, true, "80g").gpu()); // model.cpu-only
        // A standalone master enforces no overhead: native memory is then unknown and unchecked.
        ExecutorShape standalone = ExecutorShape.of(cpu.clone().set("spark.master", "spark://host:7077"), false, "");
        assertEquals(0, standalone.tensorBytes());
        ExecutorShape local = ExecutorShape.of(new SparkConf(false).set("spark.master", "local[3]"), false, "");
        assertEquals(3, local.tasks());
        assertEquals(Runtime.getRuntime().maxMemory() - 300L * (1 << 20), local.heapBytes());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> ExecutorShape.of(gpu, false, "eighty"));
        assertTrue(bad.getMessage().startsWith("memory.gpu-memory = 'eighty': expected a size such as 80g"),
                bad.getMessage());
    }

    @Test
    void autoIsFloat16OnGpuAndFloat32OnCpu() {
        assertEquals(Precision.FLOAT16, Precision.of("auto", true, "model.dtype"));
        assertEquals(Precision.FLOAT32, Precision.of("auto", false, "model.dtype"));
        assertEquals(8, Precision.of("float64", false, "model.dtype").bytes());
        assertEquals(2, Precision.of("float16", true, "model.dtype").bytes());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Precision.of("int8", true, "model.dtype"));
        assertEquals("model.dtype = 'int8': expected float64, float32, float16, bfloat16 or auto", e.getMessage());
    }

    private static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.2f GiB", bytes / (double) GIB);
    }
}
