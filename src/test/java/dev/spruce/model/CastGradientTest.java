package dev.spruce.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.Test;

/**
 * DJL trap P4 on DJL 0.33.0: {@code toType} is not differentiable (the JNI runs the cast under torch's NoGradGuard),
 * so gradients never flow through a dtype cast. When a DJL upgrade fixes it this test fails and docs/DESIGN.md P4
 * must be revised; the same-type path (no cast) differentiates as it should.
 */
class CastGradientTest {
    @Test
    void backwardThroughACastFindsNoGraph() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            NDArray x = m.create(new float[] {1.5f, -2f});
            Djl.requireGradient(x);
            try (Djl.GradScope g = Djl.gradScope(true)) {
                NDArray viaCast = x.toType(DataType.FLOAT64, false).mul(x.toType(DataType.FLOAT64, false)).sum();
                EngineException e = assertThrows(EngineException.class, () -> Djl.backward(viaCast));
                assertTrue(e.getMessage().contains("does not require grad"), e.getMessage());

                // d/dx sum(x*x) = 2x without the cast.
                Djl.backward(x.mul(x).sum());
            }
            float[] grad = x.getGradient().toFloatArray();
            assertEquals(3f, grad[0]);
            assertEquals(-4f, grad[1]);
        }
    }
}
