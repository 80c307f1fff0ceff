package dev.spruce.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import java.io.File;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A job's HOCON configuration: the file given with {@code -c}, overridden by {@code --set key=value}, on
 * top of {@code reference.conf}, which documents every option. Keys that reference.conf does not know are
 * errors, so a typo never silently falls back to a default.
 */
public final class JobConfig {
    private final Config config;

    private JobConfig(Config config) {
        this.config = config;
    }

    public static JobConfig load(String file, List<String> overrides) {
        Config reference = ConfigFactory.parseResources(JobConfig.class.getClassLoader(), "reference.conf");
        Config user = ConfigFactory.empty();
        if (file != null) {
            File f = new File(file);
            if (!f.isFile()) {
                throw new IllegalArgumentException("configuration file " + file + " not found");
            }
            try {
                user = ConfigFactory.parseFile(f);
            } catch (ConfigException e) {
                throw new IllegalArgumentException("configuration file " + file + ": " + e.getMessage(), e);
            }
        }
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--set " + o + ": expected key=value, e.g. prune.ratio=0.2");
            }
            String key = o.substring(0, eq).trim();
            if (!key.startsWith("spruce.")) {
                key = "spruce." + key;
            }
            try {
                user = ConfigFactory.parseString(key + " = " + quoteIfNeeded(o.substring(eq + 1).trim()))
                        .withFallback(user);
            } catch (ConfigException e) {
                throw new IllegalArgumentException("--set " + o + ": " + e.getMessage(), e);
            }
        }
        Config merged = user.withFallback(reference).resolve();
        rejectUnknown(user, reference, file);
        try {
            merged.checkValid(reference, "spruce");
        } catch (ConfigException.ValidationFailed e) {
            throw new IllegalArgumentException("configuration: " + e.getMessage(), e);
        }
        return new JobConfig(merged.getConfig("spruce"));
    }

    private static String quoteIfNeeded(String value) {
        if (value.isEmpty()) {
            return "\"\"";
        }
        boolean structured = value.startsWith("[") || value.startsWith("{") || value.startsWith("\"");
        boolean plain = value.matches("[A-Za-z0-9_.+-]+");
        return structured || plain ? value : "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static void rejectUnknown(Config user, Config reference, String file) {
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
            String key = e.getKey();
            if (key.startsWith("spruce.spark.conf.")) {
                continue;
            }
            if (!reference.hasPathOrNull(key)) {
                throw new IllegalArgumentException("configuration" + (file == null ? "" : " " + file) + ": unknown key '"
                        + key + "' (reference.conf documents every option)");
            }
        }
    }

    public Config raw() {
        return config;
    }

    public String string(String key) {
        return config.getString(key);
    }

    /** A string that must be set (non-empty); the error names the key. */
    public String required(String key) {
        String v = config.getString(key);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException("configuration: spruce." + key + " must be set");
        }
        return v;
    }

    public int integer(String key) {
        return config.getInt(key);
    }

    public long longValue(String key) {
        return config.getLong(key);
    }

    public double number(String key) {
        return config.getDouble(key);
    }

    public boolean flag(String key) {
        return config.getBoolean(key);
    }

    public List<Integer> integers(String key) {
        return config.getIntList(key);
    }

    public List<String> strings(String key) {
        return config.getStringList(key);
    }

    /** A sub-object as a flat string map (spark.conf). */
    public Map<String, String> map(String key) {
        Map<String, String> out = new TreeMap<>();
        config.getConfig(key).entrySet().forEach(e -> out.put(e.getKey().replace("\"", ""),
                String.valueOf(e.getValue().unwrapped())));
        return out;
    }

    /**
     * {@code spark.conf} plus the {@code memory} section as {@code spark.spruce.memory.*}: the jobs' memory check
     * reads its settings from the Spark session, so a notebook can set them there too.
     */
    public Map<String, String> sparkConf() {
        Map<String, String> out = map("spark.conf");
        out.putIfAbsent("spark.spruce.memory.check", Boolean.toString(flag("memory.check")));
        out.putIfAbsent("spark.spruce.memory.margin", Double.toString(number("memory.margin")));
        out.putIfAbsent("spark.spruce.memory.gpu-memory", string("memory.gpu-memory"));
        return out;
    }

    /** The whole effective configuration as JSON (for run.json). */
    public String json() {
        return config.root().render(ConfigRenderOptions.concise().setFormatted(true));
    }
}
