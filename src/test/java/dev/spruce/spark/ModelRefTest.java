package dev.spruce.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** A model path reaches executors absolute: their working directory is not the driver's. */
class ModelRefTest {
    @Test
    void aRelativePathIsMadeAbsoluteOnTheDriverAndStaysSoOnTheExecutor() throws Exception {
        ModelRef ref = new ModelRef("models/spruce-tiny", "float32", false);
        String expected = "file:" + Path.of("models/spruce-tiny").toAbsolutePath();
        assertEquals(expected, ref.path());
        assertEquals("hdfs://nn:8020/models/m", new ModelRef("hdfs://nn:8020/models/m", "float32", false).path());

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(ref);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            assertEquals(ref, in.readObject()); // what a task deserializes, wherever it runs
        }
    }

    @Test
    void autoIsFloat16OnAGpuAndFloat32OnTheCpuAndAnUnknownDtypeNamesTheChoices() {
        new ModelRef("m", "auto", false); // accepted where the ref is made
        assertEquals(DataType.FLOAT16, ExecutorModels.dataType("auto", Device.gpu(0)));
        assertEquals(DataType.FLOAT32, ExecutorModels.dataType("auto", Device.cpu()));
        assertEquals(DataType.FLOAT64, ExecutorModels.dataType("float64", Device.gpu(0)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ModelRef("m", "fp8", false));
        assertTrue(e.getMessage().contains("must be auto, float32, float64 or float16, got 'fp8'"), e.getMessage());
        // bfloat16 would abort every executor (trap P2): refused where the ref is made, before any task.
        IllegalArgumentException bf16 = assertThrows(IllegalArgumentException.class,
                () -> new ModelRef("m", "bfloat16", false));
        assertTrue(bf16.getMessage().contains("DJL's JNI has no bfloat16 type"), bf16.getMessage());
    }
}
