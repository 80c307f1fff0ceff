package dev.spruce.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.spark.TestSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/** A failure inside a real Spark task becomes one line: the root cause and the task, the trace in a file. */
class ErrorsTest {
    @Test
    void anExecutorSideFailureIsItsRootCauseAndTask() throws Exception {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(TestSpark.session().sparkContext());
        Exception e = assertThrows(Exception.class, () -> sc.parallelize(List.of(1, 2, 3, 4), 2).map(x -> {
            if (x == 3) {
                throw new IllegalArgumentException("/models/m/model.safetensors: tensor 'lm_head.weight' has shape "
                        + "[9, 4], expected [259, 4]\nsecond line of detail");
            }
            return x;
        }).collect());
        assertTrue(Errors.fromSpark(e));
        String line = Errors.oneLine(e);
        assertTrue(Pattern.matches("/models/m/model\\.safetensors: tensor 'lm_head\\.weight' has shape \\[9, 4\\], "
                + "expected \\[259, 4\\] \\(task \\d+\\.\\d+ of stage \\d+\\.\\d+ on executor driver\\)", line), line);
        Path trace = Errors.writeTrace(e);
        String text = Files.readString(trace);
        assertTrue(text.contains("Job aborted") && text.contains("\tat "), "the trace file lacks the Spark trace");
        Files.delete(trace);
    }

    @Test
    void spruceOwnErrorsAreKeptAsTheyAre() {
        IllegalArgumentException own = new IllegalArgumentException("calibration.length must be at least 2 tokens, got 1");
        assertEquals("calibration.length must be at least 2 tokens, got 1", Errors.oneLine(own));
        assertEquals(false, Errors.fromSpark(own));
        assertEquals("java.lang.NullPointerException", Errors.oneLine(new NullPointerException()));
    }
}
