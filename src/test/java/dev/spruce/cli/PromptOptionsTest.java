package dev.spruce.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spruce.data.PromptTemplate;
import dev.spruce.pipeline.RecoverJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The collaborative prompt's two options: spruce.evaluate.prompt-prefix and spruce.recover.data.template. */
class PromptOptionsTest {
    @TempDir
    Path dir;

    private static JobConfig config(String... overrides) {
        return JobConfig.load(null, List.of(overrides));
    }

    private RecoverJob.Settings recover(String... overrides) {
        List<String> all = new ArrayList<>(List.of("recover.model=models/spruce-tiny",
                "recover.data.path=" + dir.resolve("alpaca.json"), "output.dir=" + dir.resolve("run")));
        all.addAll(List.of(overrides));
        return RecoverCommand.settings(JobConfig.load(null, all), false);
    }

    @Test
    void thePromptPrefixDefaultsToNoneAndIsReadAsWritten() throws Exception {
        assertEquals("none", EvaluateConfig.read(config().raw()).promptPrefix());
        assertEquals("", EvaluateConfig.read(config().raw()).promptPrefixText());
        assertEquals("past", EvaluateConfig.read(config("evaluate.prompt-prefix=past").raw()).promptPrefix());
        assertTrue(EvaluateConfig.read(config("evaluate.prompt-prefix=training").raw()).promptPrefixText()
                .startsWith("###System Instruction:\n"));
        Path file = Files.writeString(dir.resolve("prefix.txt"), "Be brief.\n");
        assertEquals("Be brief.\n", EvaluateConfig.read(config("evaluate.prompt-prefix=" + file).raw()).promptPrefixText());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EvaluateConfig.read(config("evaluate.prompt-prefix=\"\"").raw()));
        assertEquals("spruce.evaluate.prompt-prefix is empty; expected none, training, past or the path of a text file",
                e.getMessage());
    }

    @Test
    void theRecoverTemplateDefaultsToAlpacaAndNamesAFileThatIsNotATemplate() throws Exception {
        assertSame(PromptTemplate.ALPACA, recover().template());
        PromptTemplate collaborative = recover("recover.data.template=collaborative").template();
        assertEquals("collaborative", collaborative.name());
        assertEquals(PromptTemplate.collaborative().prompt("Add.", "2 3"), collaborative.prompt("Add.", "2 3"));
        Path bad = Files.writeString(dir.resolve("bad-template.txt"), "Answer this: {instruction}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> recover("recover.data.template=" + bad));
        assertTrue(e.getMessage().startsWith("prompt template " + bad + ": it has 1 {instruction} and 0 {input}"),
                e.getMessage());
        // Plain-text recovery has no template: the option is not read there.
        assertSame(PromptTemplate.ALPACA, recover("recover.data.kind=text", "recover.data.template=" + bad).template());
    }
}
