package dev.spruce.spark;

import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the Spark session for a spruce job. Under spark-submit or Databricks the master and cluster
 * settings come from the launcher, whatever the job file says; a plain {@code java} launch gets the job file's
 * {@code spark.master}, or {@code local[*]}.
 */
public final class SparkSessions {
    private static final Logger LOG = LoggerFactory.getLogger("spruce");

    private SparkSessions() {}

    /**
     * @param master  Spark master, or null to keep what the launcher set (local[*] when nothing is set)
     * @param uiEnabled whether to serve the Spark UI
     * @param extra   further Spark settings ({@code spark.*} keys)
     */
    public static SparkSession create(String appName, String master, boolean uiEnabled, Map<String, String> extra) {
        SparkConf conf = new SparkConf().setAppName(appName);
        Master chosen = chooseMaster(conf, master);
        conf.setMaster(chosen.master());
        conf.setIfMissing("spark.ui.enabled", Boolean.toString(uiEnabled));
        conf.setIfMissing("spark.ui.showConsoleProgress", "false");
        // Partial sums are large double arrays; Kryo moves them faster than Java serialization.
        conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        conf.setIfMissing("spark.sql.shuffle.partitions", "8");
        extra.forEach(conf::set);
        SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
        if (!spark.sparkContext().master().equals(chosen.master())) {
            LOG.info("spark: master {} of the session that was already running (a notebook's or a job's)",
                    spark.sparkContext().master());
        } else {
            LOG.info("spark: master {} ({})", chosen.master(), chosen.source());
        }
        return spark;
    }

    /** A master and where it came from. */
    public record Master(String master, String source) {}

    /**
     * The master to use: the launcher's when spark-submit, Databricks or a {@code -Dspark.master} set one (so a
     * job file written for a laptop cannot pull a submitted job onto the driver), else the job file's
     * {@code spark.master}, else {@code local[*]}.
     */
    public static Master chooseMaster(SparkConf launcher, String jobFile) {
        boolean fromFile = jobFile != null && !jobFile.isBlank();
        if (launcher.contains("spark.master")) {
            String launched = launcher.get("spark.master");
            if (fromFile && !jobFile.trim().equals(launched)) {
                LOG.warn("spark: the job file's spark.master = {} is ignored: the launcher set {}", jobFile.trim(),
                        launched);
            }
            return new Master(launched, "set by the launcher");
        }
        if (fromFile) {
            return new Master(jobFile.trim(), "spark.master of the job file");
        }
        return new Master("local[*]", "the default when nothing sets one");
    }
}
