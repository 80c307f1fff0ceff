package dev.spruce.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.io.AtomicDirectory;
import dev.spruce.io.Fs;
import dev.spruce.io.JsonErrors;
import dev.spruce.io.JsonLayout;
import dev.spruce.model.safetensors.DType;
import dev.spruce.model.safetensors.SafetensorsFile;
import dev.spruce.model.safetensors.SafetensorsWriter;
import dev.spruce.model.safetensors.Tensor;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;

/**
 * A checkpoint directory {@code step-<n>}: {@code parameters.safetensors}, {@code optimizer.safetensors}
 * (AdamW's {@code <name>.exp_avg} and {@code <name>.exp_avg_sq}), {@code state.json} and the metrics so
 * far. Everything is the driver's float64 state, so resuming continues exactly where the run was. The
 * directory appears atomically, so any {@code step-<n>} found is complete.
 */
final class Checkpoint {
    static final String PARAMETERS = "parameters.safetensors";
    static final String OPTIMIZER = "optimizer.safetensors";
    static final String STATE = "state.json";
    static final String METRICS = "metrics.csv";
    static final String EXP_AVG = ".exp_avg";
    static final String EXP_AVG_SQ = ".exp_avg_sq";
    private static final Pattern NAME = Pattern.compile("step-(\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Where a run stands after {@code step} optimizer steps. Randomness is a function of {@code seed} (the
     * validation split and epoch orders) and of (seed, sample id, step) (dropout), so no generator state
     * needs saving.
     *
     * @param epoch              the epoch the next step belongs to
     * @param epochPosition      samples of that epoch's order already consumed
     * @param bestValidationLoss best validation loss so far, NaN before the first validation
     * @param bestStep           the step of that loss, 0 before the first validation
     * @param learningRate       the rate of the step just taken
     * @param nextLearningRate   the rate the next step will take (the schedule position)
     */
    record State(long step, long totalSteps, long epoch, long epochPosition, int globalBatch, long trainingSamples,
                 long validationSamples, long seed, double bestValidationLoss, long bestStep, double learningRate,
                 double nextLearningRate, String schedule, long warmupSteps) {

        String toJson() {
            ObjectNode n = JSON.createObjectNode();
            n.put("step", step);
            n.put("total_steps", totalSteps);
            n.put("epoch", epoch);
            n.put("epoch_position", epochPosition);
            n.put("global_batch", globalBatch);
            n.put("training_samples", trainingSamples);
            n.put("validation_samples", validationSamples);
            n.put("seed", seed);
            putNumber(n, "best_validation_loss", bestValidationLoss);
            n.put("best_step", bestStep);
            n.put("learning_rate", learningRate);
            n.put("next_learning_rate", nextLearningRate);
            n.put("schedule", schedule);
            n.put("warmup_steps", warmupSteps);
            return JsonLayout.format(n);
        }

        static State parse(String json, Path where) {
            JsonNode n;
            try {
                n = JSON.readTree(json);
            } catch (IOException e) {
                throw new IllegalArgumentException(where + ": not valid JSON: " + JsonErrors.oneLine(e), e);
            }
            return new State(longField(n, "step", where), longField(n, "total_steps", where),
                    longField(n, "epoch", where), longField(n, "epoch_position", where),
                    Math.toIntExact(longField(n, "global_batch", where)), longField(n, "training_samples", where),
                    longField(n, "validation_samples", where), longField(n, "seed", where),
                    n.path("best_validation_loss").isNumber() ? n.get("best_validation_loss").asDouble() : Double.NaN,
                    longField(n, "best_step", where), doubleField(n, "learning_rate", where),
                    doubleField(n, "next_learning_rate", where), n.path("schedule").asText(),
                    longField(n, "warmup_steps", where));
        }

        private static long longField(JsonNode n, String field, Path where) {
            JsonNode v = n.get(field);
            if (v == null || !v.canConvertToLong()) {
                throw new IllegalArgumentException(where + ": field '" + field + "' must be an integer");
            }
            return v.asLong();
        }

        private static double doubleField(JsonNode n, String field, Path where) {
            JsonNode v = n.get(field);
            if (v == null || !v.isNumber()) {
                throw new IllegalArgumentException(where + ": field '" + field + "' must be a number");
            }
            return v.asDouble();
        }
    }

    /** What a checkpoint restores. */
    record Loaded(Path dir, State state, double[][] parameters, AdamW optimizer, TrainingMetrics metrics) {}

    private Checkpoint() {}

    static void putNumber(ObjectNode n, String field, double value) {
        if (Double.isNaN(value)) {
            n.putNull(field);
        } else {
            n.put(field, value);
        }
    }

    static Path dir(Path checkpoints, long step) {
        return new Path(checkpoints, "step-" + step);
    }

    /** The complete checkpoint with the highest step under {@code checkpoints}, or null. */
    static Path latest(Path checkpoints) {
        Path best = null;
        long bestStep = -1;
        for (Path p : Fs.list(checkpoints)) {
            Matcher m = NAME.matcher(p.getName());
            if (m.matches() && Long.parseLong(m.group(1)) > bestStep) {
                bestStep = Long.parseLong(m.group(1));
                best = p;
            }
        }
        return best;
    }

    static void write(Path dir, ParameterLayout layout, double[][] parameters, AdamW optimizer, State state,
                      TrainingMetrics metrics) {
        try (AtomicDirectory out = new AtomicDirectory(dir, true)) {
            SafetensorsWriter.write(out.resolve(PARAMETERS), layout.tensors(parameters, "", DType.F64), Map.of());
            Map<String, Tensor> moments = new LinkedHashMap<>(
                    layout.tensors(optimizer.expAvg(), EXP_AVG, DType.F64));
            moments.putAll(layout.tensors(optimizer.expAvgSq(), EXP_AVG_SQ, DType.F64));
            SafetensorsWriter.write(out.resolve(OPTIMIZER), moments, Map.of("optimizer", "adamw", "step",
                    Long.toString(optimizer.step()), "steps", joined(optimizer.steps())));
            Fs.writeStringAtomically(out.resolve(STATE), state.toJson());
            Fs.writeStringAtomically(out.resolve(METRICS), metrics.toCsv());
            out.commit();
        }
    }

    static Loaded read(Path dir, ParameterLayout layout, TrainSettings settings) {
        Path statePath = new Path(dir, STATE);
        State state = State.parse(Fs.readString(statePath), statePath);
        double[][] parameters;
        try (SafetensorsFile f = SafetensorsFile.open(new Path(dir, PARAMETERS))) {
            parameters = layout.read(f, "");
        }
        AdamW optimizer;
        Path optimizerPath = new Path(dir, OPTIMIZER);
        try (SafetensorsFile f = SafetensorsFile.open(optimizerPath)) {
            double[][] m = layout.read(f, EXP_AVG);
            double[][] v = layout.read(f, EXP_AVG_SQ);
            String steps = f.metadata().get("steps");
            // Checkpoints written before parameter groups have one step count for every parameter.
            optimizer = steps == null
                    ? new AdamW(settings.beta1(), settings.beta2(), settings.epsilon(), settings.weightDecay(), m, v,
                            state.step())
                    : new AdamW(settings.beta1(), settings.beta2(), settings.epsilon(), settings.weightDecay(), m, v,
                            parseSteps(steps, m.length, optimizerPath));
        }
        Path metricsPath = new Path(dir, METRICS);
        TrainingMetrics metrics = TrainingMetrics.parse(Fs.readString(metricsPath), metricsPath.toString());
        return new Loaded(dir, state, parameters, optimizer, metrics);
    }

    private static String joined(long[] steps) {
        StringBuilder b = new StringBuilder();
        for (long s : steps) {
            b.append(b.length() == 0 ? "" : ",").append(s);
        }
        return b.toString();
    }

    private static long[] parseSteps(String text, int n, Path where) {
        String[] parts = text.split(",");
        if (parts.length != n) {
            throw new IllegalArgumentException(where + ": metadata 'steps' has " + parts.length + " counts for " + n
                    + " parameters");
        }
        long[] s = new long[n];
        try {
            for (int i = 0; i < n; i++) {
                s[i] = Long.parseLong(parts[i]);
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(where + ": metadata 'steps' must be comma-separated integers, got '"
                    + text + "'");
        }
        return s;
    }

    /** The parameters alone with a small state (the best model by validation loss). */
    static void writeParameters(Path dir, ParameterLayout layout, double[][] parameters, long step,
                                double validationLoss) {
        try (AtomicDirectory out = new AtomicDirectory(dir, true)) {
            SafetensorsWriter.write(out.resolve(PARAMETERS), layout.tensors(parameters, "", DType.F64), Map.of());
            ObjectNode n = JSON.createObjectNode();
            n.put("step", step);
            putNumber(n, "validation_loss", validationLoss);
            Fs.writeStringAtomically(out.resolve(STATE), JsonLayout.format(n));
            out.commit();
        }
    }

    static double[][] readParameters(Path dir, ParameterLayout layout) {
        try (SafetensorsFile f = SafetensorsFile.open(new Path(dir, PARAMETERS))) {
            return layout.read(f, "");
        }
    }
}
