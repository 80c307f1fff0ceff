package dev.spruce;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every document that code, configuration, scripts, notebooks and docs refer to is in the repository, and every
 * section number they cite ({@code llm-pruner.md §2.4}) is a heading of that document. A section number right after a
 * document name (or after another section, as in {@code §2.2-§2.4}) is that document's; any other refers, in a
 * Markdown file, to the file itself and elsewhere to the last document named before it in the same file.
 *
 * <p>Checked: {@code name.md} and {@code path/name.md} words (outside Markdown code spans), relative Markdown links,
 * and {@code §N.M}. A name resolves relative to the citing file, then to the repository root, then to {@code docs/},
 * then to the only file of that name in the repository. Phrases that point at a document outside the repository
 * ("reference spec", "spec section") are dangling by definition.
 */
class DocumentReferencesTest {
    private static final Pattern DOC_NAME = Pattern.compile("(?<![\\w/.-])((?:\\.{1,2}/)*[\\w-]+(?:/[\\w.-]+)*\\.md)\\b");
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s#]+)(#[^)]*)?\\)");
    private static final Pattern SECTION = Pattern.compile("§\\s*(\\d+(?:\\.\\d+)*)");
    private static final Pattern OUTSIDE = Pattern.compile("(?i)\\breference spec\\b|\\bspec section\\b|\\.\\./shared/");
    private static final Pattern CODE_SPAN = Pattern.compile("`[^`\\n]*`");
    /** Gap between a document name (or a previous section) and the section it carries: "x.md §2", "§2.2-§2.4". */
    private static final Pattern ATTACHED = Pattern.compile("[\\s)\\]]{0,3}");
    private static final Pattern RANGE = Pattern.compile("\\s*(?:-|–|,|and|or|to)\\s*");
    /**
     * Names that are not documents of this repository: files spruce writes into a run ({@code report.md}), a
     * file inside a fetched corpus package, and a README that {@code jobs/corpus/build_data.py} writes into data/.
     */
    private static final Set<String> NOT_DOCUMENTS = Set.of("report.md", "report/report.md", "SUMMARY.md",
            "tasks/README.md");
    private static final Set<String> TEXT_SUFFIXES = Set.of(".java", ".conf", ".md", ".sh", ".zpln", ".scala", ".py",
            ".properties", ".yml", ".yaml", ".xml");

    @Test
    void everyReferenceResolvesInsideTheRepository() {
        Path root = Path.of("").toAbsolutePath();
        List<Path> files = citingFiles(root);
        assertTrue(files.size() > 100, "expected the repository's sources and docs under " + root + ", found "
                + files.size() + " files");
        assertTrue(files.contains(root.resolve("docs/methods/llm-pruner.md")), "the LLM-Pruner method note");
        assertEquals(List.of(), dangling(root, files), "dangling document references");
    }

    /** {@code SomeTest#method} in the docs names a test that exists, so a guard the docs promise is real. */
    @Test
    void everyTestTheDocsNameExists() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        Pattern named = Pattern.compile("\\b([A-Z]\\w*Test)#(\\w+)");
        List<String> missing = new ArrayList<>();
        int checked = 0;
        for (Path doc : citingFiles(root)) {
            if (!doc.toString().endsWith(".md")) {
                continue;
            }
            Matcher m = named.matcher(Files.readString(doc, StandardCharsets.UTF_8));
            while (m.find()) {
                checked++;
                String method = m.group(2);
                List<Path> classes;
                try (Stream<Path> walk = Files.walk(root.resolve("src/test/java"))) {
                    classes = walk.filter(p -> p.getFileName().toString().equals(m.group(1) + ".java")).toList();
                }
                boolean found = false;
                for (Path c : classes) {
                    found |= Pattern.compile("\\bvoid " + Pattern.quote(method) + "\\(").matcher(Files.readString(c))
                            .find();
                }
                if (!found) {
                    missing.add(root.relativize(doc) + ": " + m.group());
                }
            }
        }
        assertTrue(checked >= 10, "expected the docs to name their guarding tests, found " + checked);
        assertEquals(List.of(), missing, "tests named in the docs that do not exist");
    }

    @Test
    void theCheckFindsMissingDocumentsSectionsAndOutsideCitations(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve("docs/methods"));
        Files.writeString(root.resolve("docs/methods/method.md"), "# M\n\n## 1. Groups\n\n### 1.2 Heads\n");
        Files.writeString(root.resolve("README.md"), "See [the method](docs/methods/method.md) and `other/x.md`.\n");
        Path java = root.resolve("src/A.java");
        Files.createDirectories(java.getParent());
        Files.writeString(java, """
                /** §1.2 names no document; method.md §1.2 and §1 are fine; §1.3 is not a heading. */
                /** missing.md is not here; §2 after it cannot resolve either. */
                /** as the reference spec says. */
                """);
        Path notes = root.resolve("docs/notes.md");
        Files.writeString(notes, "## 3. Own\n\nOwn §3, §3.1 is not one. [gone](../nowhere.md) [m](methods/method.md) §1.2-§1.5\n");

        List<String> found = dangling(root, citingFiles(root));

        assertEquals(List.of(
                "docs/notes.md:3: link ../nowhere.md does not exist",
                "docs/notes.md:3: docs/notes.md §3.1 is not a heading there",
                "docs/notes.md:3: methods/method.md §1.5 is not a heading there",
                "src/A.java:1: §1.2 names no document before it",
                "src/A.java:1: method.md §1.3 is not a heading there",
                "src/A.java:2: missing.md is not in the repository",
                "src/A.java:2: missing.md §2: the document is not in the repository",
                "src/A.java:3: cites a document outside the repository: 'reference spec'"), found);
    }

    static List<Path> citingFiles(Path root) {
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(Files::isRegularFile)
                    .filter(p -> {
                        String rel = root.relativize(p).toString();
                        String name = p.getFileName().toString();
                        if (rel.startsWith(".git/") || rel.startsWith("target/") || rel.startsWith("work/")) {
                            return false;
                        }
                        if ((rel.startsWith("data/") || rel.startsWith("models/")) && !name.endsWith(".md")) {
                            return false;
                        }
                        return rel.startsWith("bin/") || rel.startsWith(".ci/")
                                || TEXT_SUFFIXES.stream().anyMatch(name::endsWith)
                                || rel.startsWith("jobs/") && name.endsWith(".json");
                    })
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<String> dangling(Path root, List<Path> files) {
        List<String> problems = new ArrayList<>();
        for (Path file : files) {
            String rel = root.relativize(file).toString();
            boolean markdown = rel.endsWith(".md");
            List<String> lines;
            try {
                lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": " + e.getMessage(), e);
            }
            Path lastDoc = null;
            String lastName = null;
            for (int n = 0; n < lines.size(); n++) {
                String where = rel + ":" + (n + 1) + ": ";
                String line = markdown ? CODE_SPAN.matcher(lines.get(n)).replaceAll(" ") : lines.get(n);
                if (rel.endsWith("DocumentReferencesTest.java")) {
                    continue; // this file's own examples
                }
                Matcher outside = OUTSIDE.matcher(line);
                if (outside.find()) {
                    problems.add(where + "cites a document outside the repository: '" + outside.group() + "'");
                }
                List<int[]> docSpans = new ArrayList<>();
                List<Path> docTargets = new ArrayList<>();
                List<String> docNames = new ArrayList<>();
                List<int[]> linkSpans = new ArrayList<>();
                Matcher link = LINK.matcher(markdown ? line : "");
                while (link.find()) {
                    String target = link.group(1);
                    linkSpans.add(new int[] {link.start(1), link.end(1)});
                    if (target.contains("://") || target.startsWith("mailto:")) {
                        continue;
                    }
                    Path resolved = file.getParent().resolve(target).normalize();
                    if (!Files.exists(resolved)) {
                        problems.add(where + "link " + target + " does not exist");
                    } else if (target.endsWith(".md")) {
                        docSpans.add(new int[] {link.start(1), link.end(1)});
                        docTargets.add(resolved);
                        docNames.add(target);
                    }
                }
                Matcher doc = DOC_NAME.matcher(line);
                while (doc.find()) {
                    int at = doc.start();
                    if (insideUrl(line, at) || linkSpans.stream().anyMatch(span -> at >= span[0] && at < span[1])) {
                        continue;
                    }
                    if (NOT_DOCUMENTS.contains(doc.group(1))) {
                        continue;
                    }
                    Path resolved = resolve(root, file, doc.group(1));
                    if (resolved == null) {
                        problems.add(where + doc.group(1) + " is not in the repository");
                    }
                    docSpans.add(new int[] {doc.start(), doc.end()});
                    docTargets.add(resolved);
                    docNames.add(doc.group(1));
                }
                Matcher section = SECTION.matcher(line);
                int previousEnd = -1;
                Path previousTarget = null;
                String previousName = null;
                while (section.find()) {
                    Path target = null;
                    String name = null;
                    for (int i = 0; i < docSpans.size(); i++) {
                        int end = docSpans.get(i)[1];
                        if (end <= section.start() && ATTACHED.matcher(line.substring(end, section.start())).matches()) {
                            target = docTargets.get(i);
                            name = docNames.get(i);
                        }
                    }
                    if (name == null && previousName != null
                            && RANGE.matcher(line.substring(previousEnd, section.start())).matches()) {
                        target = previousTarget;
                        name = previousName;
                    }
                    if (name == null && markdown) {
                        target = file; // a bare section in a Markdown file is the file's own
                        name = rel;
                    } else if (name == null) {
                        target = lastDoc; // otherwise the last document named before it
                        name = lastName;
                        int nearest = -1;
                        for (int i = 0; i < docSpans.size(); i++) {
                            if (docSpans.get(i)[1] <= section.start()
                                    && (nearest < 0 || docSpans.get(i)[1] > docSpans.get(nearest)[1])) {
                                nearest = i;
                            }
                        }
                        if (nearest >= 0) {
                            target = docTargets.get(nearest);
                            name = docNames.get(nearest);
                        }
                    }
                    if (name == null) {
                        problems.add(where + "§" + section.group(1) + " names no document before it");
                    } else if (target == null) {
                        problems.add(where + name + " §" + section.group(1)
                                + ": the document is not in the repository");
                    } else if (!hasHeading(target, section.group(1))) {
                        problems.add(where + name + " §" + section.group(1) + " is not a heading there");
                    }
                    previousEnd = section.end();
                    previousTarget = target;
                    previousName = name;
                }
                if (!docNames.isEmpty()) {
                    int last = 0;
                    for (int i = 1; i < docSpans.size(); i++) {
                        if (docSpans.get(i)[1] > docSpans.get(last)[1]) {
                            last = i;
                        }
                    }
                    lastDoc = docTargets.get(last);
                    lastName = docNames.get(last);
                }
            }
        }
        return problems;
    }

    private static boolean insideUrl(String line, int at) {
        int space = Math.max(line.lastIndexOf(' ', at), line.lastIndexOf('(', at));
        return line.substring(space + 1, at).contains("://");
    }

    static Path resolve(Path root, Path file, String name) {
        for (Path base : List.of(file.getParent(), root, root.resolve("docs"))) {
            Path candidate = base.resolve(name).normalize();
            if (candidate.startsWith(root) && Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        if (name.contains("/")) {
            return null;
        }
        List<Path> sameName = citingFiles(root).stream()
                .filter(p -> p.getFileName().toString().equals(name))
                .toList();
        return sameName.size() == 1 ? sameName.get(0) : null;
    }

    /** Whether the document has a Markdown heading numbered {@code number} ("### 2.4 ..." or "## 4. ..."). */
    static boolean hasHeading(Path doc, String number) {
        Pattern heading = Pattern.compile("^#{1,6}\\s+" + Pattern.quote(number) + "(?:[.\\s]|$)");
        try {
            return Files.readAllLines(doc, StandardCharsets.UTF_8).stream().anyMatch(l -> heading.matcher(l).find());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
