"""Speech to captions: the recognizer (faster-whisper, CTranslate2, int8 on CPU), the
deck's vocabulary it is prompted with, and captions made of the words it hears.

The parts that decide (vocabulary, cues, lines) are pure functions, tested without a
model. The model is loaded once per process (`recognizer`), from a faster-whisper name or
a local folder whose files are checked against the SHA256SUMS it holds before use.
"""
from __future__ import annotations

import hashlib
import math
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from difflib import SequenceMatcher
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .captions import Cue, check_language

OFF = "off"
SUMS_FILE = "SHA256SUMS"
LINE_CHARS = 42  # a caption line, as broadcasters split them
CUE_LINES = 2
CUE_SECONDS = 6.0
PAUSE_SECONDS = 1.0  # a silence this long ends a cue
PROMPT_TOKENS = 120  # what the recognizer is told: 200 made German speech loop ("das ist, das ist, ...")
VOCABULARY_WORDS = 60
BEAM = 5
LOOPING = 2.4  # a segment's text this compressible (gzip) is a phrase said over and over: a loop
LONGEST = 18  # letters: a longer "word" on a slide is an identifier nobody says as one
MIN_SPEECH_SECONDS = 1.0  # less than this heard by the voice detector: nothing is transcribed
VAD = {"min_silence_duration_ms": 500}
# A word heard this close to a term of the deck's vocabulary (difflib's ratio of their
# letters), and not a word of the deck itself, is written as the term.
SNAP_RATIO = 0.8
SNAP_LETTERS = 5  # shorter terms (acronyms: "PGF") are too easily close to anything


class ModelRefused(Exception):
    """The model the setting names is missing, or its files are not the ones expected."""


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str  # as heard, without the leading space


# --- the deck's vocabulary -------------------------------------------------------------

_WORD = re.compile(r"[^\W_](?:[\w'’.+-]*[^\W_])?")
# Words a general model knows whatever the deck: they are no help in a prompt.
_COMMON = frozenset("""
a about above after again all also an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had
has have having he her here hers him his how i if in into is it its itself just me more most
my no nor not now of off on once only or other our out over own same she should so some such
than that the their them then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours new use
using used one two three first next last example examples slide slides page introduction
summary conclusion questions thank thanks overview outline part section contents table figure
""".split())


def deck_words(texts: Iterable[str]) -> Counter:
    """How often each word of the slides occurs, under its spelling as most often written
    (a mixed-case spelling before a shouted one: "LaTeX", not the logo's "LATEX"), a
    plural counted with its singular. Capitals on a page that is mostly capitals (a data
    listing, a code dump) are not words anyone says."""
    counts: Counter = Counter()
    spellings: dict[str, Counter] = {}
    for text in texts:
        found = [re.sub(r"['’]s$", "", m.group(0)).strip(".'’-+") for m in _WORD.finditer(text or "")]
        # A name with its affiliation's footnote mark (a title page's "Gramm1") is the name.
        found = [re.sub(r"^([A-Z][a-z]{3,})\d$", r"\1", w) for w in found]
        found = [w for w in found if len(w) >= 2 and any(c.isalpha() for c in w)]
        shouting = sum(w.isupper() for w in found) > max(8, len(found) // 4)
        for w in found:
            if shouting and w.isupper():
                continue
            key = w.casefold()
            counts[key] += 1
            spellings.setdefault(key, Counter())[w] += 1
    for key in list(counts):  # "overlays" counts as "overlay" when the deck has both
        if key.endswith("s") and key[:-1] in counts:
            counts[key[:-1]] += counts.pop(key)
            spellings[key[:-1]].update(spellings.pop(key))
    def spelling(key: str) -> str:
        ranked = [w for w, _ in spellings[key].most_common()]
        inner = [w for w in ranked if any(c.isupper() for c in w[1:]) and not w.isupper()]  # LaTeX, TikZ
        mixed = [w for w in ranked if not w.isupper()]
        return (inner or mixed or ranked)[0] if len(key) > 3 else ranked[0]
    return Counter({spelling(k): n for k, n in counts.items()})


def _looks_special(word: str) -> bool:
    """An acronym, a name written in mixed case, a word with digits or inner capitals
    (each part of a hyphenated word on its own: "Front-Cover" is two plain words)."""
    return any(any(c.isdigit() for c in part) or sum(c.isupper() for c in part) >= 2
               or (part[:1].islower() and any(c.isupper() for c in part[1:]))
               for part in word.split("-"))


def first_page_capitals(texts: Sequence[str]) -> list[str]:
    """The capitalised words of a deck's first page: its authors' names among them."""
    return [w for w in deck_words(texts[:1]) if w[:1].isupper()]


def rarity(language: str | None, tokens: Callable[[str], float]) -> Callable[[str], float]:
    """How unlikely the model is to write a word unaided when it hears it, from 0 (the
    commonest words) to 4, in the talk's language (Whisper's code: "de").

    A word's frequency says it best: wordfreq's Zipf scale (6 for "the", 4 for "Regeln",
    3 for "Hieroglyphen", 0 for a word it has never seen), in that language or in
    English (the model learnt from English most, and a German talk's "License" is said
    as in English), counted down from 6. The model's own tokens for the word (`tokens`:
    Recognizer.rarity) tell English only, the text its tokenizer was made on: German's
    commonest words take three or four tokens, as names do ("Beobachtungen" as many as
    "Hieroglyphen"). So for English the two are averaged, for another language the
    frequency alone counts, and for a language wordfreq has no list of (or needs a
    segmenter for: Japanese, Chinese, Korean) the tokens alone."""
    try:
        from wordfreq import available_languages, zipf_frequency

        lists = {"en", *([language] if language else [])}
        if not lists <= set(available_languages()):
            return tokens  # (wordfreq would take the nearest language it has: English, most often)
        for code in lists:
            zipf_frequency("the", code)  # loads the list, or fails here
    except Exception:  # wordfreq missing, or the language's segmenter not installed
        return tokens

    @lru_cache(maxsize=None)
    def measured(word: str) -> float:
        known = max(zipf_frequency(word, code) for code in lists)
        frequency = min(4.0, max(0.0, 6.0 - known))
        return (frequency + tokens(word)) / 2 if language in (None, "en") else frequency

    return measured


def vocabulary(texts: Iterable[str], rarity: Callable[[str], float], limit: int = VOCABULARY_WORDS) -> list[str]:
    """The deck's words a general recognizer is likely to get wrong, best first: weighted
    by how rare the word is to the model (`rarity`: the tokens it takes, say; a
    hyphenated word by its rarest part) and how often the deck uses it; common words are
    left out, and so are words nobody says as one (identifiers longer than LONGEST). The
    first page's capitalised words (the authors' names) count as special."""
    texts = list(texts)
    # The first page names the authors: a name there is worth a prompt's place.
    title_page = {w.casefold() for w in first_page_capitals(texts)}
    scored = []
    for word, n in deck_words(texts).items():
        if word.casefold() in _COMMON or len(word) < 3 and not word.isupper():
            continue
        # Not said as words: codes, file names, dates, identifiers, shouted data (PDB records).
        if (any(c.isdigit() or c == "_" for c in word) or word.count(".") > 0
                or word.isupper() and len(word) > 6 or len(word) > LONGEST):
            continue
        parts = [p for p in word.split("-") if p]
        # A length says little beyond a few tokens: a long identifier is not rarer than a name.
        # A capitalised word (a heading's "Results") is as rare as the word itself: the
        # model's tokens favour lower case.
        rare = min(4.0, max(min(rarity(p), rarity(p.lower())) if p[1:].islower() else rarity(p) for p in parts))
        named = word.casefold() in title_page and rare >= 2  # not a plain word ("Results")
        weight = rare + (1.5 if _looks_special(word) or named else 0.0)
        if weight < 2.0:
            continue
        scored.append((weight * (1 + math.log(n)), word))
    scored.sort(key=lambda t: (-t[0], t[1].casefold()))
    return [w for _, w in scored[:limit]]


def prompt(names: Sequence[str], words: Sequence[str], title: str = "",
           tokens: Callable[[str], int] | None = None, budget: int = PROMPT_TOKENS) -> str | None:
    """What the recognizer is told about a stretch: the talk's title, its speakers and its
    vocabulary (best first), within `budget` tokens (`tokens` counts them; about four
    characters a token without it). Whisper keeps only the last 223 tokens of what it is
    given, from the front: a prompt cut to fit keeps the title and names."""
    count = tokens or (lambda text: len(text) // 4 + 1)
    parts = []
    if title.strip():
        parts.append(title.strip().rstrip(".") + ".")
    if names:
        parts.append(", ".join(names) + ".")
    text = " ".join(parts)
    terms: list[str] = []
    for w in words:
        if count(f"{text} {', '.join(terms + [w])}.") > budget:
            break
        terms.append(w)
    if terms:
        text = f"{text} {', '.join(terms)}.".strip()
    return text or None


def snapped(words: Sequence[Word], terms: Sequence[str], known: Iterable[str] = ()) -> list[Word]:
    """The words heard, with those that are a near miss of one of the deck's terms written
    as the term: one word ("phylogenys", "unslide") or two heard for one ("Medienin
    Formatik"). A word the deck itself uses (`known`, the terms included) is never
    changed nor joined to another (nor its plural: the deck's counts hold "genotypes" as
    "genotype"), so "Informatik" stays when the deck has both it and "Informatiker". A
    word's trailing punctuation is kept."""
    targets = {}
    for t in terms:
        if len(key_of(t)) >= SNAP_LETTERS:
            targets.setdefault(key_of(t), t)
    deck = {key_of(k) for k in known} | set(targets)

    def nearest(key: str) -> str | None:
        best, score = None, SNAP_RATIO
        for target, term in targets.items():
            if abs(len(target) - len(key)) > 1:  # not "complete" for "NP-complete"
                continue
            r = SequenceMatcher(None, key, target, autojunk=False).ratio()
            if r >= score:
                best, score = term, r
        return best

    out: list[Word] = []
    i = 0
    while i < len(words):
        for n in (2, 1):
            run = words[i:i + n]
            keys = [key_of(w.text) for w in run]
            if len(run) < n or not all(keys) or any(k in deck or k[-1:] == "s" and k[:-1] in deck for k in keys):
                # but a plural the deck spells otherwise: "phylogenys" where it has "phylogenies"
                if n == 1 and keys[0][-2:] == "ys" and keys[0][:-2] + "ies" in targets:
                    term = targets[keys[0][:-2] + "ies"]
                else:
                    continue
            else:
                term = nearest("".join(keys))
            if term is None:
                continue
            tail = re.search(r"[.,;:!?]*$", run[-1].text).group(0)
            out.append(Word(run[0].start, run[-1].end, term + tail))
            i += n
            break
        else:
            out.append(words[i])
            i += 1
    return out


def deck_corrected(words: Sequence[Word], vocabulary: Sequence[str], texts: Iterable[str],
                   names: Sequence[str] = ()) -> list[Word]:
    """`snapped` to a stretch's vocabulary, its speakers' names and the names on its
    deck's first page (the authors: "Gramm" for "Gram", though the model spells it in
    one token and it is not in the vocabulary); every word of its deck, and the common
    words, left as heard."""
    texts = list(texts)
    known = [*deck_words(texts), *_COMMON]
    return snapped(unjoined(words, known), stretch_terms(vocabulary, texts, names), known)


def stretch_terms(vocabulary: Sequence[str], texts: Sequence[str], names: Sequence[str] = ()) -> list[str]:
    """A stretch's terms: its vocabulary, its speakers' names (each part) and the names on
    its deck's first page."""
    title_page = [w for w in first_page_capitals(texts) if w[1:].islower() and w.casefold() not in _COMMON]
    return [*vocabulary, *(part for name in names for part in name.split()), *title_page]


_PIECE = re.compile(r"[A-Z]?[^\W\d_A-Z]+|[A-Z]+(?![^\W\d_A-Z])|\S+?")
JOINED_PIECES = 3


def unjoined(words: Sequence[Word], known: Iterable[str]) -> list[Word]:
    """The words heard, with those the model ran together after a prompt of joined
    commands ("usecolorthemePixaholeColorTheme", "pdfPackageBatilTantau") written apart:
    a word the deck does not have, that starts with one of the deck's words followed by a
    capital, or is JOINED_PIECES capitalised pieces or more of three letters and more
    ("pdfViewsImage"). "LaTeX", "JavaScript" or "iPhone" stay whole. Each piece gets a
    share of the word's time by its letters; trailing punctuation stays on the last."""
    deck = {key_of(k) for k in known}
    out: list[Word] = []
    for w in words:
        text, tail = re.match(r"(.*?)([.,;:!?]*)$", w.text).groups()
        if not text.isalpha() or fold(text) in deck:
            out.append(w)
            continue
        pieces = _PIECE.findall(text)
        lead = next((n for n in range(len(text) - 2, 2, -1)
                     if text[n:n + 1].isupper() and text[n - 1:n].islower() and fold(text[:n]) in deck), 0)
        if lead:
            pieces = [text[:lead], *_PIECE.findall(text[lead:])]
        elif not (len(pieces) >= JOINED_PIECES and all(len(p) >= 3 for p in pieces)):
            out.append(w)
            continue
        at, share = w.start, (w.end - w.start) / len(text)
        for i, piece in enumerate(pieces):
            end = w.end if i == len(pieces) - 1 else round(at + share * len(piece), 3)
            out.append(Word(round(at, 3), end, piece + (tail if i == len(pieces) - 1 else "")))
            at = end
    return out


# --- captions from words ----------------------------------------------------------------

def split_lines(text: str, width: int = LINE_CHARS) -> list[str]:
    """A cue's text on at most two lines, broken at the space nearest the middle that
    keeps both lines within `width` when there is one."""
    text = " ".join(text.split())
    if len(text) <= width:
        return [text]
    spaces = [i for i, c in enumerate(text) if c == " "]
    if not spaces:
        return [text]
    fitting = [i for i in spaces if i <= width and len(text) - i - 1 <= width]
    at = min(fitting or spaces, key=lambda i: abs(i - len(text) / 2))
    return [text[:at], text[at + 1:]]


def cues_from_words(words: Sequence[Word], width: int = LINE_CHARS, lines: int = CUE_LINES,
                    seconds: float = CUE_SECONDS) -> list[Cue]:
    """Words grouped into cues for reading: at most `lines` lines of about `width`
    characters and `seconds` long; a cue ends at a long pause, and after a sentence once
    it holds a line's worth."""
    cues: list[Cue] = []
    group: list[Word] = []

    def flush() -> None:
        if group:
            text = " ".join(w.text for w in group)
            cues.append(Cue(group[0].start, max(group[-1].end, group[0].start + 0.2), "\n".join(split_lines(text, width))))
            group.clear()

    for w in words:
        if group:
            size = len(" ".join(x.text for x in group)) + 1 + len(w.text)
            if (size > width * lines or w.end - group[0].start > seconds
                    or w.start - group[-1].end > PAUSE_SECONDS):
                flush()
        group.append(w)
        if group[-1].text.endswith((".", "?", "!")) and len(" ".join(x.text for x in group)) >= width // 2:
            flush()
    flush()
    # A cue never runs into the next one.
    return [Cue(c.start, min(c.end, cues[i + 1].start) if i + 1 < len(cues) else c.end, c.text)
            for i, c in enumerate(cues)]


_NOT_SPEECH = re.compile(r"^[\W_♪♫]*$")


def kept(text: str) -> bool:
    """False for what a recognizer writes over music or noise: notes, brackets, nothing."""
    t = text.strip()
    return bool(t) and not _NOT_SPEECH.match(t) and not (t.startswith(("[", "(", "*")) and t.endswith(("]", ")", "*")))


# --- the model ------------------------------------------------------------------------

def language_code(tag: str | None) -> str | None:
    """Whisper's language for a BCP 47 tag: its primary subtag (pt-BR -> pt)."""
    if not tag:
        return None
    return check_language(tag).split("-")[0].lower()


def check_folder(folder: Path) -> None:
    """Every file SHA256SUMS lists must be there with that checksum; model.bin must be
    listed. Raises ModelRefused."""
    sums = folder / SUMS_FILE
    if not sums.is_file():
        raise ModelRefused(f"{folder} has no {SUMS_FILE}: a local model folder lists its files' SHA-256 there "
                           f"(as sha256sum writes it)")
    listed = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, _, name = line.strip().partition("  ")
            listed[name.lstrip("*")] = digest.lower()
    if "model.bin" not in listed:
        raise ModelRefused(f"{sums} does not list model.bin")
    for name, digest in sorted(listed.items()):
        path = folder / name
        if "/" in name or not path.is_file():
            raise ModelRefused(f"{folder}: {name} is missing")
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != digest:
            raise ModelRefused(f"{folder}: {name} does not match its SHA-256 in {SUMS_FILE}: refused")


class Recognizer:
    """One loaded model. `transcribe` is thread-safe (one decoding at a time)."""

    def __init__(self, model, name: str, beam: int = BEAM, batch: int = 0):
        self.model = model
        self.name = name
        self.beam = beam  # beam search width (1: greedy)
        self.batch = batch  # > 0: voiced chunks decoded that many at a time (BatchedInferencePipeline)
        self._lock = threading.Lock()
        if not isinstance(getattr(model, "encode", None), SharedEncoder):
            model.encode = SharedEncoder(model.encode)

    def rarity(self, word: str) -> float:
        """How many tokens the model needs for the word after a space: 1 for the words it
        knows best, more for names, acronyms and jargon."""
        return float(self.tokens(" " + word))

    def tokens(self, text: str) -> int:
        """How many tokens the model reads for `text` (for the prompt's budget)."""
        return len(self.model.hf_tokenizer.encode(text, add_special_tokens=False).ids)

    def detect_language(self, audio) -> str | None:
        """The language of the first 30 seconds of voice in `audio` (None without any)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        if not get_speech_timestamps(audio, VadOptions(**VAD)):
            return None
        with self._lock:
            language, _, _ = self.model.detect_language(audio, vad_filter=True, vad_parameters=VadOptions(**VAD))
        return language

    def transcribe(self, audio, language: str | None, prompt: str | None, offset: float = 0.0,
                   terms: Sequence[str] = ()) -> tuple[list[Word], str | None]:
        """Words heard in `audio` (16 kHz mono float32), their times plus `offset`; and
        the language (None when no speech was heard). Voice activity detection skips what
        is not speech; a piece with less than a second of speech in all (silence, music,
        a cough) is not given to the recognizer at all, which would invent words there.

        The prompt goes in as faster-whisper's `hotwords`, which every 30-second window
        reads: as `initial_prompt` without conditioning on the previous text it would
        reach the first window only (and with that conditioning, the prompt is pushed out
        by the text heard, and a window's errors feed the next). With a prompt the audio
        is heard twice, and the two hearings are put `together` by `terms` (the words of
        the prompt that are not common words, unless given)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        spans = [(t["start"] / 16000, t["end"] / 16000) for t in get_speech_timestamps(audio, VadOptions(**VAD))]
        if sum(end - start for start, end in spans) < MIN_SPEECH_SECONDS:
            return [], None
        with self._lock:
            plain, info = self._segments(audio, language, None)
            if not prompt:
                return self._words(plain, offset), info.language
            # Heard twice, with and without the prompt, the chunks' encoding shared (the
            # half of the cost): the prompt brings the deck's terms, and also makes the
            # decoder skip or garble what it finds hard ("P G F declare image" heard
            # "pdfLATEX"); the plain hearing is kept where the prompted one did that.
            prompted, _ = self._segments(audio, info.language, prompt)
            first, second = [], []
            for seg in plain:  # in step: the second hearing's chunks are still in the encoder's cache
                first.append(seg)
                while not second or second[-1].end <= seg.end:
                    more = next(prompted, None)
                    if more is None:
                        break
                    second.append(more)
            second += list(prompted)
        shifted = [(start + offset, end + offset) for start, end in spans]
        return together(self._words(first, offset), self._words(second, offset), terms or prompt_terms(prompt),
                        shifted), info.language

    def _segments(self, audio, language: str | None, prompt: str | None):
        """faster-whisper's segments (a generator: decoded as they are read) and its info."""
        # A single fallback temperature: noise that defeats greedy decoding is not retried five times.
        options = dict(language=language, hotwords=prompt, vad_filter=True, word_timestamps=True,
                       beam_size=self.beam, temperature=(0.0, 0.4), vad_parameters=VAD)
        if self.batch:
            from faster_whisper import BatchedInferencePipeline

            segments, info = BatchedInferencePipeline(self.model).transcribe(audio, batch_size=self.batch, **options)
        else:
            segments, info = self.model.transcribe(audio, condition_on_previous_text=False, **options)
        return iter(segments), info

    @staticmethod
    def _words(segments: Iterable, offset: float) -> list[Word]:
        """The words of the segments kept."""
        words = []
        for seg in segments:
            if seg.no_speech_prob > 0.6 and seg.avg_logprob < -1.0:
                continue  # not speech: what the model "hears" in noise
            if not kept(seg.text):
                continue  # not speech ("[music]")
            said = [w for w in seg.words or () if w.word.strip() and kept(w.word.strip())]
            if seg.compression_ratio > LOOPING or looping(w.word for w in said):
                continue  # the decoder repeating itself
            words += [Word(round(float(w.start) + offset, 3), round(float(w.end) + offset, 3), w.word.strip())
                      for w in said]
        return words


class SharedEncoder:
    """The encoder's outputs for the last few batches of features it was given, so that a
    second hearing of the same chunks costs the decoder only. Installed on a loaded
    faster-whisper model in place of its `encode`."""

    def __init__(self, encode: Callable, keep: int = 4):
        self.encode, self.keep = encode, keep
        self.outputs: OrderedDict = OrderedDict()

    def __call__(self, features):
        import numpy as np

        features = np.ascontiguousarray(features)
        key = (features.shape, hashlib.blake2b(features.tobytes(), digest_size=16).digest())
        if key in self.outputs:
            self.outputs.move_to_end(key)
            return self.outputs[key]
        output = self.outputs[key] = self.encode(features)
        while len(self.outputs) > self.keep:
            self.outputs.popitem(last=False)
        return output


def prompt_terms(prompt: str | None) -> list[str]:
    """The words of a prompt that are not common words."""
    return [w for w in re.split(r"[\s,.;:]+", prompt or "") if len(w) >= 3 and w.casefold() not in _COMMON]


SAME_LENGTH = 0.6  # a hearing with fewer letters than this share of the other's dropped words


def together(plain: Sequence[Word], prompted: Sequence[Word], terms: Iterable[str],
             spans: Sequence[tuple[float, float]] = ()) -> list[Word]:
    """One hearing of two: the prompted one, but the plain one where the prompted one
    dropped words (fewer letters than SAME_LENGTH of the plain one's: a sentence skipped,
    a term of the prompt written for several words) or has fewer of the `terms` than the
    plain one at that place (a term in one to four words heard: "set beamer template" is
    "setbeamertemplate"; "Overlays" heard as "Overlazer" under the prompt). The two are
    aligned word by word (fewest edits) within each voiced span (`spans`, seconds, as the
    words' times; a word belongs to the span its middle is in, or the nearest)."""
    keys = {key_of(t) for t in terms}
    keys = {k for k in keys if len(k) >= 3}

    def span_of(w: Word) -> int:
        middle = (w.start + w.end) / 2
        return min(range(len(spans)), key=lambda i: max(spans[i][0] - middle, middle - spans[i][1], 0.0)) if spans else 0

    groups: dict[int, tuple[list[Word], list[Word]]] = {}
    for k, words in enumerate((plain, prompted)):
        for w in words:
            groups.setdefault(span_of(w), ([], []))[k].append(w)
    out: list[Word] = []
    for i in sorted(groups):
        out += _together(*groups[i], keys)
    return out


def _together(plain: Sequence[Word], prompted: Sequence[Word], keys: set[str]) -> list[Word]:
    a = [key_of(w.text) for w in plain]
    b = [key_of(w.text) for w in prompted]
    # fewest edits, then the runs of matched and of differing words
    d = [[i + j if not i * j else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    steps, i, j = [], len(a), len(b)
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            i, j = i - 1, j - 1
            steps.append((i, j, a[i] == b[j]))
        elif i and d[i][j] == d[i - 1][j] + 1:
            i -= 1
            steps.append((i, None, False))
        else:
            j -= 1
            steps.append((None, j, False))
    steps.reverse()

    def terms_in(words: Sequence[str]) -> set[str]:
        found = set()
        for x in range(len(words)):
            for y in range(x + 1, min(len(words), x + 4) + 1):
                k = "".join(words[x:y])
                if k in keys or k[-1:] == "s" and k[:-1] in keys:
                    found.add(k if k in keys else k[:-1])
        return found

    out: list[Word] = []
    k = 0
    while k < len(steps):
        same = steps[k][2]
        run = []
        while k < len(steps) and steps[k][2] == same:
            run.append(steps[k])
            k += 1
        mine = [plain[x] for x, _, _ in run if x is not None]
        theirs = [prompted[y] for _, y, _ in run if y is not None]
        a_run = [a[x] for x, _, _ in run if x is not None]  # their keys, as aligned
        b_run = [b[y] for _, y, _ in run if y is not None]
        if same:
            out += theirs  # the same words: the prompted hearing's spelling ("Beamer", "LaTeX")
        elif sum(map(len, b_run)) < SAME_LENGTH * sum(map(len, a_run)):
            out += mine  # the prompted hearing dropped words, or said a term for more ("pdfLATEX")
        elif len(terms_in(a_run) - terms_in(b_run)) >= max(1, len(terms_in(b_run) - terms_in(a_run))):
            # the plain hearing has a term the prompted one garbled ("Overlays" as
            # "Overlazer"), or wrote another in its place ("pgf" as "pdfLATEX")
            out += mine
        else:
            out += theirs
    return out


def looping(words: Iterable[str]) -> bool:
    """One word said three times or more and nothing else: the decoder repeating a word
    (of the prompt, most often) over noise or a pause, too short for the compression
    ratio to tell."""
    said = [fold(w).strip() for w in words]
    return len(said) >= 3 and len(set(said)) == 1


_loaded: dict[tuple[str, int], Recognizer] = {}
_loading = threading.Lock()


def recognizer(setting: str, threads: int = 0, batch: int = 0) -> Recognizer:
    """The model the setting names, loaded once per process: a local folder (checked
    against its SHA256SUMS) or a faster-whisper model name (fetched by faster-whisper)."""
    if setting == OFF:
        raise ModelRefused("transcription is off")
    with _loading:
        key = (setting, threads)
        if key not in _loaded:
            from faster_whisper import WhisperModel  # a few hundred ms: only where captions are made

            folder = Path(setting)
            if "/" in setting or folder.is_dir():
                if not folder.is_dir():
                    raise ModelRefused(f"the model folder {setting} does not exist")
                check_folder(folder)
                source = str(folder)
            else:
                source = setting
            try:
                model = WhisperModel(source, device="cpu", compute_type="int8", cpu_threads=threads)
            except Exception as e:  # no network, an unknown name, a damaged file
                raise ModelRefused(f"the model {setting} could not be loaded: {e}") from e
            _loaded[key] = Recognizer(model, setting)
        _loaded[key].batch = batch
        return _loaded[key]


def key_of(text: str) -> str:
    """A word or words as compared with a term: folded, spaces left out ("Set Beamer
    Template" and "setbeamertemplate" are one key)."""
    return fold(text).replace(" ", "")


def fold(text: str) -> str:
    """Lower case without accents and punctuation: for comparing words heard and written."""
    t = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in t if c.isalnum() or c.isspace())
