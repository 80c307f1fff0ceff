package dev.spruce.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** Which master a job runs on: the launcher's beats the job file's, which beats local[*]. */
class SparkSessionsTest {
    @Test
    void aMasterSetBySparkSubmitWinsOverTheJobFiles() {
        // spark-submit --master passes the master to the driver as the system property spark.master, which a
        // SparkConf that loads defaults reads.
        String previous = System.getProperty("spark.master");
        System.setProperty("spark.master", "spark://127.0.0.1:7077");
        try {
            SparkSessions.Master m = SparkSessions.chooseMaster(new SparkConf(), "local[2]");
            assertEquals("spark://127.0.0.1:7077", m.master());
            assertEquals("set by the launcher", m.source());
        } finally {
            if (previous == null) {
                System.clearProperty("spark.master");
            } else {
                System.setProperty("spark.master", previous);
            }
        }
    }

    @Test
    void withoutALauncherMasterTheJobFileDecidesThenLocal() {
        SparkConf bare = new SparkConf(false);
        assertEquals(new SparkSessions.Master("local[2]", "spark.master of the job file"),
                SparkSessions.chooseMaster(bare, " local[2] "));
        assertEquals(new SparkSessions.Master("local[*]", "the default when nothing sets one"),
                SparkSessions.chooseMaster(bare, ""));
        assertEquals("yarn", SparkSessions.chooseMaster(new SparkConf(false).setMaster("yarn"), "").master());
    }
}
