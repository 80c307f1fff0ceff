package dev.spruce.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import dev.spruce.eval.EvaluateSettings;
import dev.spruce.eval.tasks.McFormat;
import dev.spruce.eval.tasks.PerplexityProtocol;
import dev.spruce.model.Generator;
import java.util.ArrayList;
import java.util.List;

/** Reads the {@code spruce.evaluate} section (its list entries checked key by key) into {@link EvaluateSettings}. */
final class EvaluateConfig {
    private static final String SECTION = "spruce.evaluate";

    private EvaluateConfig() {}

    /** Reads the settings from a whole configuration (the {@code spruce} object of a job file). */
    static EvaluateSettings read(Config spruce) {
        Config e = spruce.getConfig("evaluate");
        List<EvaluateSettings.PerplexityDataset> perplexity = new ArrayList<>();
        List<? extends Config> datasets = e.getConfigList("perplexity");
        for (int i = 0; i < datasets.size(); i++) {
            String where = SECTION + ".perplexity[" + i + "]";
            Config d = entry(datasets.get(i), where, List.of("name", "path", "format", "field", "seq-len", "stride"),
                    List.of("name", "path"));
            try {
                perplexity.add(new EvaluateSettings.PerplexityDataset(d.getString("name"), d.getString("path"),
                        optional(d, "format", "text"), optional(d, "field", "text"),
                        d.hasPath("seq-len") ? d.getInt("seq-len") : PerplexityProtocol.DEFAULT_SEQ_LEN,
                        d.hasPath("stride") ? d.getInt("stride") : 0));
            } catch (ConfigException | IllegalArgumentException ex) {
                throw new IllegalArgumentException("configuration: " + where + ": " + ex.getMessage(), ex);
            }
        }
        List<EvaluateSettings.TaskFile> tasks = new ArrayList<>();
        List<? extends Config> taskEntries = e.getConfigList("tasks");
        for (int i = 0; i < taskEntries.size(); i++) {
            String where = SECTION + ".tasks[" + i + "]";
            Config t = entry(taskEntries.get(i), where, List.of("name", "path", "format"), List.of("path", "format"));
            try {
                McFormat format = McFormat.forName(t.getString("format"));
                tasks.add(new EvaluateSettings.TaskFile(optional(t, "name", format.defaultTaskName()), t.getString("path"), format));
            } catch (ConfigException | IllegalArgumentException ex) {
                throw new IllegalArgumentException("configuration: " + where + ": " + ex.getMessage(), ex);
            }
        }
        Config g = e.getConfig("generation");
        EvaluateSettings.Generation generation = new EvaluateSettings.Generation(g.getStringList("prompts"), new Generator.Settings(
                g.getInt("max-new-tokens"), g.getDouble("temperature"), g.getDouble("top-p"), g.getLong("seed")));
        return new EvaluateSettings(perplexity, tasks, e.getInt("max-length"), e.getInt("batch-tokens"),
                e.getInt("partitions"), e.getString("dtype"), spruce.getBoolean("model.cpu-only"), generation,
                e.getString("prompt-prefix"));
    }

    /** Rejects unknown and missing keys of a list entry, which reference.conf cannot check. */
    private static Config entry(Config c, String where, List<String> known, List<String> required) {
        for (String key : c.root().keySet()) {
            if (!known.contains(key)) {
                throw new IllegalArgumentException("configuration: " + where + ": unknown key '" + key
                        + "' (expected " + String.join(", ", known) + ")");
            }
        }
        for (String key : required) {
            if (!c.hasPath(key) || c.getValue(key).unwrapped().toString().isBlank()) {
                throw new IllegalArgumentException("configuration: " + where + "." + key + " must be set");
            }
        }
        return c;
    }

    private static String optional(Config c, String key, String fallback) {
        return c.hasPath(key) ? c.getString(key) : fallback;
    }
}
