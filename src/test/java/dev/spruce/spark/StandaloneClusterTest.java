package dev.spruce.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.cli.CliRun;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jobs/spark-submit.sh} as a user runs it, against a real Spark standalone cluster: a Master and a Worker
 * started on 127.0.0.1 from Spark's own classes, a SPARK_HOME built from the test class path (with a
 * {@code bin/spark-submit} that runs Spark's {@code SparkSubmit}, and DJL left out so that the fat jar must bring
 * it), the CPU fat jar built by the script, and {@code prune} on the bundled demo model. The job file says
 * {@code spark.master = "local[2]"}; the script's {@code --master} must win.
 */
class StandaloneClusterTest {
    @TempDir
    static Path dir;
    static Path sparkHome;
    static String masterUrl;
    static final List<Process> DAEMONS = new ArrayList<>();

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static Process start(List<String> command, Map<String, String> env, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    private static String java() {
        return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    }

    @BeforeAll
    static void startCluster() throws Exception {
        sparkHome = Files.createDirectories(dir.resolve("spark-home"));
        Path jars = Files.createDirectories(sparkHome.resolve("jars"));
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Paths.get(entry);
            // The cluster provides Spark and its libraries; the application (DJL, spruce) comes in the fat jar.
            if (entry.endsWith(".jar") && !entry.contains("/ai/djl/") && !entry.contains("jazzer")
                    && !entry.contains("junit")) {
                Path link = jars.resolve(p.getFileName());
                if (!Files.exists(link)) {
                    Files.createSymbolicLink(link, p.toAbsolutePath());
                }
            }
        }
        Path bin = Files.createDirectories(sparkHome.resolve("bin"));
        Path submit = bin.resolve("spark-submit");
        // As Spark's bin/spark-submit and bin/spark-class do: the launcher library builds the driver's command line
        // (with spark.driver.extraJavaOptions and the class path), then it is run.
        // Spark's launcher prints any messages as lines, then an empty line, then the command NUL-separated;
        // the last field is its exit status.
        Files.writeString(submit, String.join("\n",
                "#!/usr/bin/env bash",
                "cmd=(); delim=$'\\n'; started=false",
                "while IFS= read -d \"$delim\" -r arg; do",
                "  if [ \"$started\" = true ]; then cmd+=(\"$arg\")",
                "  elif [ -z \"$arg\" ]; then delim=''; started=true",
                "  else echo \"$arg\"; fi",
                "done < <('" + java() + "' -Xmx128m -cp \"$SPARK_HOME/jars/*\" org.apache.spark.launcher.Main "
                        + "org.apache.spark.deploy.SparkSubmit \"$@\"; printf '%d\\0' $?)",
                "last=$((${#cmd[@]} - 1))",
                "[ \"${cmd[$last]}\" = 0 ] || exit \"${cmd[$last]}\"",
                "exec \"${cmd[@]:0:$last}\"", ""));
        submit.toFile().setExecutable(true);
        Path discovery = dir.resolve("discover-gpus.sh");
        Files.writeString(discovery, "#!/usr/bin/env bash\necho '{\"name\": \"gpu\", \"addresses\": [\"0\", \"1\"]}'\n");
        discovery.toFile().setExecutable(true);

        int port = freePort();
        masterUrl = "spark://127.0.0.1:" + port;
        Map<String, String> env = Map.of("SPARK_HOME", sparkHome.toString(), "SPARK_SCALA_VERSION", "2.13",
                "SPARK_LOCAL_IP", "127.0.0.1");
        String classPath = jars + "/*";
        DAEMONS.add(start(List.of(java(), "-cp", classPath, "org.apache.spark.deploy.master.Master",
                "--host", "127.0.0.1", "--port", Integer.toString(port), "--webui-port",
                Integer.toString(freePort())), env, dir.resolve("master.log")));
        waitForPort(port, dir.resolve("master.log"));
        // One worker with two cores and two (pretend) GPUs found by a discovery script, as a GPU node reports them.
        DAEMONS.add(start(List.of(java(), "-cp", classPath,
                "-Dspark.worker.resource.gpu.amount=2", "-Dspark.worker.resource.gpu.discoveryScript=" + discovery,
                "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "2", "--memory", "3g",
                "--work-dir", dir.resolve("work").toString(), "--webui-port", Integer.toString(freePort()),
                masterUrl), env, dir.resolve("worker.log")));
        long deadline = System.currentTimeMillis() + 60_000;
        while (!Files.readString(dir.resolve("master.log")).contains("Registering worker")
                && System.currentTimeMillis() < deadline) {
            Thread.sleep(250);
        }
        assertTrue(Files.readString(dir.resolve("master.log")).contains("Registering worker"),
                "the worker did not register:\n" + Files.readString(dir.resolve("worker.log")));
    }

    private static void waitForPort(int port, Path log) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                Thread.sleep(250);
            }
        }
        throw new AssertionError("the master did not start:\n" + Files.readString(log));
    }

    @AfterAll
    static void stopCluster() throws Exception {
        for (Process p : DAEMONS) {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }

    /** Runs the script as a user would, from the repository root; returns its exit code and output. */
    private static CliRun.Result submit(Map<String, String> env, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("bash", "jobs/spark-submit.sh"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(false);
        pb.environment().putAll(env);
        pb.environment().put("SPARK_HOME", sparkHome.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("MASTER", masterUrl);
        Path out = Files.createTempFile(dir, "submit", ".out");
        Path err = Files.createTempFile(dir, "submit", ".err");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("spark-submit.sh did not finish:\n" + Files.readString(err));
        }
        return new CliRun.Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private static final String[] DEMO = {"--set", "calibration.samples=8", "--set", "calibration.partitions=2"};

    private static String[] args(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("prune", "-c", "conf/demo.conf", "--set", "output.dir=" + out));
        a.addAll(List.of(DEMO));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void theSubmittedCpuJobRunsOnTheClusterAndScoresLikeLocalMode() throws Exception {
        Path cluster = dir.resolve("cluster-run");
        CliRun.Result r = submit(Map.of("GPUS_PER_EXECUTOR", "0"), args(cluster));
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.err().contains("spark: master " + masterUrl + " (set by the launcher)"), r.err());
        assertTrue(r.err().contains("the job file's spark.master = local[2] is ignored"), r.err());
        Matcher tasks = Pattern.compile("tasks ran on \\[(.*)]").matcher(r.err());
        assertTrue(tasks.find(), r.err());
        assertTrue(tasks.group(1).contains("executor 0 partition") && !tasks.group(1).contains("executor driver"),
                "the tasks did not run on the cluster's executor: " + tasks.group(1));
        assertEquals("cpu", Files.readString(Path.of("target/spruce-jar.profile")).strip());

        Path local = dir.resolve("local-run");
        CliRun.Result l = CliRun.spruce(args(local));
        assertEquals(0, l.exit(), l.err());
        assertEquals(Files.readString(local.resolve("scores.json")), Files.readString(cluster.resolve("scores.json")),
                "scores differ between the standalone cluster and local mode");
        assertEquals(Files.readString(local.resolve("plan.json")), Files.readString(cluster.resolve("plan.json")));
    }

    @Test
    void withGpusPerExecutorEachTaskGetsAGpuAddress() throws Exception {
        Path out = dir.resolve("gpu-run");
        // The CPU jar (PROFILE=cpu) with GPU requests: Spark schedules the GPUs, spruce computes on the CPU.
        CliRun.Result r = submit(Map.of("GPUS_PER_EXECUTOR", "1", "PROFILE", "cpu", "GPU_DISCOVERY",
                dir.resolve("discover-gpus.sh").toString()), args(out, "--set", "model.cpu-only=true"));
        assertEquals(0, r.exit(), r.out() + r.err());
        Matcher tasks = Pattern.compile("tasks ran on \\[(.*)]").matcher(r.err());
        assertTrue(tasks.find(), r.err());
        for (String task : tasks.group(1).split(", ")) {
            assertTrue(task.matches("executor \\d+ partition \\d+ on cpu\\(\\) \\(assigned gpu [01]\\)"), task);
        }
    }
}
