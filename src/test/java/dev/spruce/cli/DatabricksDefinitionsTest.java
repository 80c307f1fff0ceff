package dev.spruce.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The Databricks definitions (jobs/databricks-prune-job.json and the bundle databricks.yml) run spruce as it is:
 * nothing runs them in CI, so a renamed option, an unknown key, a DBFS jar or a Spark 3 runtime would otherwise
 * only show on a paid cluster. Each JAR task must name spruce's main class, parse with spruce's own command line,
 * override only keys reference.conf knows, name only paths that are in the repository, built by the bundle, or
 * placeholders listed in docs/DATABRICKS.md, and run on a Spark 4 runtime whose cluster spec carries the GPU amounts
 * and the JVM flags of jobs/spark-submit.sh (the session exists before spruce starts, so its own spark.conf cannot).
 */
class DatabricksDefinitionsTest {
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private static final String MAIN = "dev.spruce.cli.Spruce";
    /** Locations outside the repository; each one a definition uses must be listed in docs/DATABRICKS.md. */
    private static final List<String> PLACEHOLDERS = List.of("/Volumes/", "dbfs:/", "s3://", "abfss://", "${");
    private static final Pattern BUNDLE_VAR = Pattern.compile("\\$\\{var\\.(\\w+)}");

    /** What a task is checked against: the docs' text and the relative paths the bundle's build produces. */
    record Context(String docs, Set<String> buildOutputs) {}

    @Test
    void theJobJsonRunsSpruce() throws IOException {
        Map<String, Object> job = json("jobs/databricks-prune-job.json");
        List<Map<String, Object>> tasks = jarTasks(job);
        assertEquals(1, tasks.size(), "one JAR task");
        assertTrue(job.get("schedule") instanceof Map, "the job is scheduled");
        Context ctx = new Context(read("docs/DATABRICKS.md"), Set.of());
        for (Map<String, Object> task : tasks) {
            assertEquals(List.of(), problems(task, ctx), "jobs/databricks-prune-job.json task " + task.get("task_key"));
        }
    }

    @Test
    void theBundleRunsSpruce() throws IOException {
        Map<String, Object> bundle = yaml("databricks.yml");
        Map<String, Object> job = map(map(map(bundle, "resources"), "jobs"), "spruce_prune");
        assertTrue(job.get("schedule") instanceof Map || job.get("trigger") instanceof Map, "the bundle's job is scheduled");
        List<Map<String, Object>> tasks = jarTasks(job);
        assertEquals(1, tasks.size(), "one JAR task");
        Context ctx = new Context(read("docs/DATABRICKS.md"), buildOutputs(bundle));
        for (Map<String, Object> task : tasks) {
            assertEquals(List.of(), problems(task, ctx), "databricks.yml task " + task.get("task_key"));
        }
    }

    /** The bundle builds the fat jar the task installs and uploads it to a volume, in every target. */
    @Test
    void theBundleBuildsTheJarAndUploadsItToAVolume() throws IOException {
        Map<String, Object> bundle = yaml("databricks.yml");
        Map<String, Object> artifacts = map(bundle, "artifacts");
        assertFalse(artifacts.isEmpty(), "artifacts");
        for (Object a : artifacts.values()) {
            @SuppressWarnings("unchecked")
            Map<String, Object> artifact = (Map<String, Object>) a;
            assertEquals("mvn -B -ntp -DskipTests -Pfatjar,cuda package", artifact.get("build"));
        }
        // jobs/spark-submit.sh names the jar the same build writes; the bundle must upload that one.
        Matcher jar = Pattern.compile("\\$root/(target/[\\w.-]+\\.jar)").matcher(read("jobs/spark-submit.sh"));
        assertTrue(jar.find(), "the jar in jobs/spark-submit.sh");
        assertEquals(Set.of(jar.group(1)), buildOutputs(bundle), "the bundle's build output");

        String docs = read("docs/DATABRICKS.md");
        Map<String, Object> workspace = map(bundle, "workspace");
        Map<String, Object> targets = map(bundle, "targets");
        assertEquals(Set.of("dev", "prod"), targets.keySet());
        for (Map.Entry<String, Object> t : targets.entrySet()) {
            @SuppressWarnings("unchecked")
            Map<String, Object> own = ((Map<String, Object>) t.getValue()).get("workspace") instanceof Map<?, ?> w
                    ? (Map<String, Object>) w : Map.of();
            String host = String.valueOf(own.getOrDefault("host", workspace.get("host")));
            String artifactPath = String.valueOf(own.getOrDefault("artifact_path", workspace.get("artifact_path")));
            assertTrue(host.startsWith("https://") && docs.contains(host), t.getKey() + ": host placeholder " + host
                    + " documented in docs/DATABRICKS.md");
            assertTrue(artifactPath.startsWith("/Volumes/") && docs.contains(artifactPath), t.getKey()
                    + ": artifact_path " + artifactPath + " is a volume documented in docs/DATABRICKS.md");
        }
        for (Object p : (List<?>) map(bundle, "sync").get("paths")) {
            assertTrue(Files.exists(ROOT.resolve(p.toString())), "synced path " + p);
        }
    }

    /**
     * Both definitions describe one job: same main class, cluster and parameters once the bundle's variables take
     * their defaults, except -c, where the bundle reads the conf it synced as a workspace file instead of a copy
     * uploaded to the volume (docs/DATABRICKS.md, "Where the jar and the conf go").
     */
    @Test
    void theBundleAndTheJobJsonAgree() throws IOException {
        Map<String, Object> bundle = yaml("databricks.yml");
        Map<String, Object> fromBundle = jarTasks(map(map(map(bundle, "resources"), "jobs"), "spruce_prune")).get(0);
        Map<String, Object> fromJson = jarTasks(json("jobs/databricks-prune-job.json")).get(0);
        assertEquals(map(fromJson, "spark_jar_task").get("main_class_name"),
                map(fromBundle, "spark_jar_task").get("main_class_name"));
        assertEquals(map(fromJson, "new_cluster"), map(fromBundle, "new_cluster"), "cluster spec");

        List<String> jsonArgs = new ArrayList<>(parameters(fromJson));
        List<String> bundleArgs = new ArrayList<>();
        for (String p : parameters(fromBundle)) {
            bundleArgs.add(resolveVars(p, map(bundle, "variables")));
        }
        String jsonConf = jsonArgs.set(jsonArgs.indexOf("-c") + 1, "CONF");
        String bundleConf = bundleArgs.set(bundleArgs.indexOf("-c") + 1, "CONF");
        assertEquals(jsonArgs, bundleArgs, "parameters other than -c");
        assertEquals(Path.of(jsonConf).getFileName(), Path.of(bundleConf).getFileName(), "the same conf file");
    }

    /** The checks above can fail: a bad task is reported field by field. */
    @Test
    void theCheckReportsBadTasks() {
        Context ctx = new Context("`/Volumes/main/spruce/documented`", Set.of());
        Map<String, Object> unparsable = task("Spruce", List.of("prune", "--sett", "prune.ratio=0.2"),
                "16.4.x-gpu-ml-scala2.13", "-Dai.djl.offline=true");
        assertEquals(List.of("main_class_name is Spruce, expected " + MAIN,
                        "parameters do not parse: Unknown options: '--sett', 'prune.ratio=0.2'"),
                problems(unparsable, ctx).subList(0, 2));

        Map<String, Object> wrong = task(MAIN, List.of("prune", "-c", "conf/llama-7b-gpu-cluster.conf", "--set",
                "prune.ratioo=0.2", "--set", "output.dir=/Volumes/main/spruce/elsewhere", "--resume"),
                "16.4.x-gpu-ml-scala2.13", "--add-opens=java.base/java.nio=ALL-UNNAMED");
        List<String> found = problems(wrong, ctx);
        assertTrue(found.contains("--set prune.ratioo: reference.conf has no spruce.prune.ratioo"), found.toString());
        assertTrue(found.contains("/Volumes/main/spruce/elsewhere: a placeholder not listed in docs/DATABRICKS.md"),
                found.toString());
        assertTrue(found.contains("spark_version 16.4.x-gpu-ml-scala2.13 is not a Spark 4 runtime (17.x)"),
                found.toString());
        assertTrue(found.contains("spark.executor.extraJavaOptions lacks -Dai.djl.offline=true"), found.toString());
        assertTrue(found.stream().anyMatch(p -> p.startsWith("conf/llama-7b-gpu-cluster.conf with the overrides: ")),
                found.toString());
    }

    /** Every problem of one JAR task, one line each; empty when it runs spruce as documented. */
    static List<String> problems(Map<String, Object> task, Context ctx) {
        List<String> out = new ArrayList<>();
        Map<String, Object> jarTask = map(task, "spark_jar_task");
        if (!MAIN.equals(jarTask.get("main_class_name"))) {
            out.add("main_class_name is " + jarTask.get("main_class_name") + ", expected " + MAIN);
        }
        List<String> params = parameters(task);
        CommandLine cl = new CommandLine(new Spruce());
        ParseResult parsed;
        try {
            parsed = cl.parseArgs(params.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            out.add("parameters do not parse: " + e.getMessage());
            parsed = null;
        }
        ParseResult sub = parsed == null ? null : parsed.subcommand();
        if (parsed != null && (sub == null || !cl.getSubcommands().containsKey(sub.commandSpec().name()))) {
            out.add("parameters name no spruce subcommand: " + params);
        }
        List<String> paths = new ArrayList<>();
        if (sub != null) {
            if (!sub.hasMatchedOption("--resume")) {
                out.add("no --resume: a retried run would fail on its own output directory");
            }
            String conf = sub.matchedOptionValue("-c", null);
            List<String> overrides = sub.matchedOptionValue("--set", List.<String>of());
            Config reference = ConfigFactory.parseResources("reference.conf");
            for (String o : overrides) {
                String key = o.substring(0, Math.max(0, o.indexOf('='))).replaceFirst("^spruce\\.", "");
                if (key.isEmpty() || !reference.hasPath("spruce." + key)) {
                    out.add("--set " + (key.isEmpty() ? o : key) + ": reference.conf has no spruce." + key);
                } else if (key.endsWith(".path") || key.endsWith(".dir")) {
                    paths.add(o.substring(o.indexOf('=') + 1));
                }
            }
            if (conf != null) {
                paths.add(conf);
                // The repository's copy of the conf the task names, with the task's overrides, must load.
                Path local = ROOT.resolve("conf").resolve(Path.of(conf).getFileName().toString());
                try {
                    JobConfig.load(local.toString(), overrides);
                } catch (RuntimeException e) {
                    out.add(ROOT.relativize(local) + " with the overrides: " + e.getMessage());
                }
            }
        }
        if (task.get("libraries") instanceof List<?> libs) {
            libs.stream().filter(l -> l instanceof Map<?, ?> m && m.containsKey("jar"))
                    .forEach(l -> paths.add(String.valueOf(((Map<?, ?>) l).get("jar"))));
        }
        for (String p : paths) {
            String problem = pathProblem(p, ctx);
            if (problem != null) {
                out.add(p + ": " + problem);
            }
        }
        out.addAll(clusterProblems(map(task, "new_cluster")));
        return out;
    }

    /** Null when the path is in the repository, built by the bundle, or a documented placeholder. */
    private static String pathProblem(String path, Context ctx) {
        if (PLACEHOLDERS.stream().anyMatch(path::startsWith)) {
            if (!ctx.docs().contains(path)) {
                return "a placeholder not listed in docs/DATABRICKS.md";
            }
            // A synced workspace file must be a file of the repository.
            String synced = path.replaceFirst("^\\$\\{workspace\\.file_path}/", "");
            return synced.equals(path) || Files.isRegularFile(ROOT.resolve(synced)) ? null
                    : "not in the repository, so the bundle cannot sync it";
        }
        String rel = path.replaceFirst("^\\./", "");
        if (ctx.buildOutputs().contains(rel)) {
            return null;
        }
        return !Path.of(rel).isAbsolute() && !rel.startsWith("target/") && Files.exists(ROOT.resolve(rel)) ? null
                : "neither in the repository, built by the bundle, nor a placeholder";
    }

    private static List<String> clusterProblems(Map<String, Object> cluster) {
        List<String> out = new ArrayList<>();
        String version = String.valueOf(cluster.get("spark_version"));
        if (!version.startsWith("17.")) {
            out.add("spark_version " + version + " is not a Spark 4 runtime (17.x)");
        }
        Map<String, Object> conf = map(cluster, "spark_conf");
        for (String gpu : List.of("spark.executor.resource.gpu.amount", "spark.task.resource.gpu.amount")) {
            if (!String.valueOf(conf.get(gpu)).matches("[1-9]\\d*")) {
                out.add(gpu + " is " + conf.get(gpu) + ", expected a GPU count");
            }
        }
        for (String side : List.of("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")) {
            List<String> have = List.of(String.valueOf(conf.getOrDefault(side, "")).split("\\s+"));
            for (String flag : jvmFlags()) {
                if (!have.contains(flag)) {
                    out.add(side + " lacks " + flag);
                }
            }
        }
        return out;
    }

    /** The JVM flags jobs/spark-submit.sh passes to the driver and executors (its opens="..." list). */
    static List<String> jvmFlags() {
        Matcher m = Pattern.compile("opens=\"([^\"]*)\"").matcher(read("jobs/spark-submit.sh"));
        assertTrue(m.find(), "the opens list in jobs/spark-submit.sh");
        List<String> flags = new ArrayList<>();
        for (String f : m.group(1).split("\\s+")) {
            if (f.startsWith("-")) {
                flags.add(f);
            }
        }
        assertTrue(flags.contains("-Dai.djl.offline=true") && flags.size() > 10, "flags " + flags);
        return flags;
    }

    /** The relative paths the bundle's artifacts build (their files' sources). */
    private static Set<String> buildOutputs(Map<String, Object> bundle) {
        Set<String> out = new java.util.TreeSet<>();
        for (Object a : map(bundle, "artifacts").values()) {
            for (Object f : (List<?>) ((Map<?, ?>) a).get("files")) {
                out.add(String.valueOf(((Map<?, ?>) f).get("source")).replaceFirst("^\\./", ""));
            }
        }
        return out;
    }

    private static String resolveVars(String value, Map<String, Object> variables) {
        Matcher m = BUNDLE_VAR.matcher(value);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            Object v = map(variables, m.group(1)).get("default");
            assertTrue(v != null, "bundle variable " + m.group(1) + " has a default");
            m.appendReplacement(sb, Matcher.quoteReplacement(v.toString()));
        }
        return m.appendTail(sb).toString();
    }

    private static List<Map<String, Object>> jarTasks(Map<String, Object> job) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object t : (List<?>) job.get("tasks")) {
            @SuppressWarnings("unchecked")
            Map<String, Object> task = (Map<String, Object>) t;
            if (task.containsKey("spark_jar_task")) {
                out.add(task);
            }
        }
        return out;
    }

    private static List<String> parameters(Map<String, Object> task) {
        Object p = map(task, "spark_jar_task").get("parameters");
        return p == null ? List.of() : ((List<?>) p).stream().map(String::valueOf).toList();
    }

    private static Map<String, Object> task(String main, List<String> params, String version, String javaOptions) {
        Map<String, Object> conf = new LinkedHashMap<>();
        conf.put("spark.executor.resource.gpu.amount", "1");
        conf.put("spark.task.resource.gpu.amount", "1");
        conf.put("spark.driver.extraJavaOptions", javaOptions);
        conf.put("spark.executor.extraJavaOptions", javaOptions);
        return Map.of("task_key", "bad", "spark_jar_task", Map.of("main_class_name", main, "parameters", params),
                "new_cluster", Map.of("spark_version", version, "spark_conf", conf));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Map<String, Object> parent, String key) {
        Object v = parent.get(key);
        assertTrue(v instanceof Map, "'" + key + "' is a mapping, got " + v);
        return (Map<String, Object>) v;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(String rel) throws IOException {
        return new ObjectMapper().readValue(ROOT.resolve(rel).toFile(), Map.class);
    }

    private static Map<String, Object> yaml(String rel) {
        return new Yaml(new SafeConstructor(new LoaderOptions())).load(read(rel));
    }

    private static String read(String rel) {
        try {
            return Files.readString(ROOT.resolve(rel), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
