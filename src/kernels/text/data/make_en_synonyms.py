#!/usr/bin/env python3
"""Derive the default English synonym dictionary (en_synonyms.tsv) from WordNet 3.0.

Input: the WordNet 3.0 database of the Debian package `wordnet-base`
(`apt-get install -y wordnet-base`, files under /usr/share/wordnet). Output: TSV lines
`word<TAB>syn1|syn2|...`, sorted by word, on stdout (or the file given as argument).

Rules (why: a caption's "car" must become "automobile", never "gondola" or "machine"):

1. Parts of speech: nouns and adjectives. Verbs are left out: captions mostly hold
   inflected verbs ("sitting", "parked") that a base-form dictionary does not match,
   while their base forms mostly appear as nouns ("launch pad" must not become
   "found pad"); adverbs are rare in captions and their synonyms seldom fit. A word
   whose most frequent sense is a verb gets no entry at all (rule 5), nor does an
   adjective ending in "-ing" (a participle in captions: "looking" is not "sounding"). Only single lower-case ASCII words of 3+ letters, as headwords
   and as synonyms (a replacement never changes the number of words).
2. One sense per word: a word's synonyms come only from its MOST FREQUENT sense, which is
   WordNet's first synset for that word in its index file (WordNet orders senses by their
   tag counts in the semantic concordance).
3. Mutual most frequent sense: a synonym is kept only if that same synset is ITS most
   frequent sense too (rule 5 applies to it as well), and it is attested: its tag count
   is above 0 or it is in CAPTION_WORDS. This drops "machine" for "car" (machine mostly means a device) and
   "picture" for "photo", but keeps "automobile", "auto", "motorcar".
4. Frequent words only: a word is kept if its first sense has a tag count of at least
   MIN_TAG_COUNT in WordNet's cntlist (the sense-tagged Brown corpus counts, a proxy for
   how common the word is in that sense), or if it is in CAPTION_WORDS below (common
   words of image captions, incl. every content word of sample_data's captions).
5. A word's most frequent sense over all its parts of speech is the first sense of the
   part of speech whose first sense has the highest tag count (captions are not
   POS-tagged); ties go noun, adjective, verb. "dog" is a noun, so it gets no verb
   synonyms ("chase") even though its noun synset has no single-word synonym; "stay"
   is a verb, so it gets no entry.
6. Regular plurals of kept nouns are added ("cars" -> "automobiles|autos|...") when
   WordNet lists no irregular plural and the plural is not itself a headword.
"""

import os
import re
import sys
from collections import defaultdict

WORDNET = os.environ.get("WORDNET_DIR", "/usr/share/wordnet")
MIN_TAG_COUNT = 5
POS = [("noun", "n", ("1",)), ("adj", "a", ("3", "5")), ("verb", "v", ("2",))]
# Parts of speech that get entries (verbs still decide a word's most frequent sense).
ENTRY_POS = ("noun", "adj")
WORD = re.compile(r"^[a-z]{3,}$")

# Common content words of image captions (COCO-style) and every content word of the
# captions in sample_data/. They are kept even when rare in the Brown corpus.
CAPTION_WORDS = """
man woman person people child kid boy girl baby player crowd group family
dog puppy cat kitten horse cow sheep bird elephant giraffe zebra bear animal
car automobile truck bus train bicycle bike motorcycle boat airplane plane vehicle
street road sidewalk highway bridge building house city town skyline tower
table desk plate bowl cup mug glass bottle food meal pizza sandwich cake fruit
room kitchen bathroom bedroom toilet sink bed couch sofa chair bench window door
television computer laptop phone screen keyboard camera tripod clock lamp
field grass tree forest flower garden park mountain hill rock sand beach ocean sea
lake river water wave snow sky cloud sun moon star galaxy space rocket shuttle
flag uniform cap hat helmet shirt jacket suit spacesuit dress coat shoe
photo photograph picture image portrait painting drawing sign paper equation
coin surface tissue eye face hair hand blood vessel crater wall shelf garage
espresso saucer coffee tea microscope astronaut pad evening night
small large big little tiny huge old young elderly new bright dark shiny
smiling happy close blurry round wooden metal empty cluttered colorful
sit stand ride hold walk run eat play look lay lie park pose fly carry wear
show fill stain smile watch wait cross jump throw catch
""".split()

PLURAL_ES = ("s", "x", "z", "ch", "sh")


def read_cntlist():
    """(lemma, ss_type, sense_number) -> tag count."""
    counts = {}
    with open(os.path.join(WORDNET, "cntlist.rev"), encoding="utf-8") as f:
        for line in f:
            key, sense_number, count = line.split()
            lemma, rest = key.split("%", 1)
            ss_type = rest.split(":", 1)[0]
            k = (lemma, ss_type, int(sense_number))
            counts[k] = counts.get(k, 0) + int(count)
    return counts


def database_lines(name):
    """The fields of each line of a WordNet database file, licence header skipped."""
    with open(os.path.join(WORDNET, name), encoding="utf-8") as f:
        for line in f:
            if not line.startswith(" "):
                yield line.split()


def read_index(pos):
    """lemma -> list of synset offsets, most frequent sense first."""
    senses = {}
    for parts in database_lines("index." + pos):
        lemma, synset_cnt, p_cnt = parts[0], int(parts[2]), int(parts[3])
        offsets = parts[4 + p_cnt + 2 :]
        assert len(offsets) == synset_cnt, parts
        senses[lemma] = offsets
    return senses


def read_data(pos):
    """synset offset -> its lemmas in WordNet's order (lower case, '_' as in WordNet)."""
    synsets = {}
    for parts in database_lines("data." + pos):
        offset, w_cnt = parts[0], int(parts[3], 16)
        words = parts[4 : 4 + 2 * w_cnt : 2]
        # Adjective markers such as "(a)", "(p)", "(ip)" are not part of the word.
        synsets[offset] = [re.sub(r"\(.*\)$", "", w).lower() for w in words]
    return synsets


def irregular_nouns():
    """Inflected forms WordNet lists as exceptions (e.g. 'mice'), and their bases."""
    forms, bases = set(), set()
    with open(os.path.join(WORDNET, "noun.exc"), encoding="utf-8") as f:
        for line in f:
            inflected, *base = line.split()
            forms.add(inflected)
            bases.update(base)
    return forms, bases


def plural(noun):
    if noun.endswith(PLURAL_ES):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def main():
    counts = read_cntlist()
    caption_words = set(CAPTION_WORDS)
    # Each word's most frequent sense over all parts of speech: (tag count, POS rank)
    # decides, the sense is that POS's first synset.
    first_sense = {}  # word -> (key, pos, synset offset)
    tables = {}
    for rank, (pos, _, ss_types) in enumerate(POS):
        index, data = read_index(pos), read_data(pos)
        tables[pos] = data
        for lemma, offsets in index.items():
            if not WORD.match(lemma):
                continue
            tag_count = sum(counts.get((lemma, t, 1), 0) for t in ss_types)
            key = (tag_count, -rank)
            if lemma not in first_sense or key > first_sense[lemma][0]:
                first_sense[lemma] = (key, pos, offsets[0])

    def attested(word):
        return word in caption_words or first_sense[word][0][0] > 0

    best = {}  # word -> (synonyms, pos)
    for lemma, ((tag_count, _), pos, offset) in first_sense.items():
        if pos not in ENTRY_POS or (pos == "adj" and lemma.endswith("ing")):
            continue
        if tag_count < MIN_TAG_COUNT and lemma not in caption_words:
            continue
        synonyms = [
            s
            for s in tables[pos][offset]
            if s != lemma
            and WORD.match(s)
            and first_sense.get(s, (None, None, None))[1:] == (pos, offset)
            and attested(s)
        ]
        synonyms = list(dict.fromkeys(synonyms))
        if synonyms:
            best[lemma] = (synonyms, pos)

    table = {w: syns for w, (syns, _) in best.items()}
    irregular_forms, irregular_bases = irregular_nouns()
    for word, (syns, pos) in sorted(best.items()):
        if pos != "noun" or word in irregular_bases:
            continue
        p = plural(word)
        if p in table or p in irregular_forms:
            continue
        plurals = [plural(s) for s in syns if s not in irregular_bases]
        if plurals:
            table[p] = plurals

    out = open(sys.argv[1], "w", encoding="utf-8") if len(sys.argv) > 1 else sys.stdout
    out.write(
        "# Derived from WordNet 3.0 by make_en_synonyms.py (see WORDNET_LICENSE).\n"
        "# word<TAB>synonyms of its most frequent sense, separated by |\n"
    )
    for word in sorted(table):
        out.write(word + "\t" + "|".join(table[word]) + "\n")


if __name__ == "__main__":
    main()
