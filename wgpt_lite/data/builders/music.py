"""mini-music: music21 scores -> MIDI (piano) -> FluidSynth -> 10-30 s clips.

Real compositions from music21's corpus (piano and chamber works first, then Bach
chorales, all played on FluidSynth's FluidR3 GM piano), 24 kHz, each clip paired with the
MIDI file it was rendered from, as MAESTRO pairs audio and MIDI. Splits hold out whole
pieces. Which pieces are used depends only on their order, never on which worker
finishes first, so the corpus is the same for any ``--jobs``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from tqdm.auto import tqdm

from wgpt_lite.audio import SAMPLE_RATE, load_audio, normalise_peak, save_audio
from wgpt_lite.data.builders.common import MAX_PIECE_SECONDS, need_tool, pack_clips, run_tool, worker_pool
from wgpt_lite.data.corpora import SEED, SILENT_PEAK, CorpusSpec
from wgpt_lite.infra.errors import AudioError, DataError

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
# composers whose works come first (keyboard and chamber music, all played on piano), then chorales
PIANO_COMPOSERS = (
    "joplin",
    "mozart",
    "haydn",
    "beethoven",
    "schumann_clara",
    "schumann_robert",
    "chopin",
    "cpebach",
    "schoenberg",
    "beach",
    "schubert",
    "handel",
    "corelli",
    "weber",
    "verdi",
    "johnson_j_r",
    "liliuokalani",
)
CHORALE_SHARE = 0.25  # of every split's minutes: Bach chorales; the rest piano and chamber works
SCORE_FORMATS = (".mxl", ".musicxml", ".xml", ".krn")  # preferred first when a piece has several files
MIDI_TICKS_PER_SECOND = 960  # at the fixed 120 bpm tempo we write: 480 ticks a quarter note
VELOCITY = 80  # the scores carry few dynamics; one mezzo-forte touch for every note


def music21_pieces() -> dict[str, list[str]]:
    """music21 corpus paths by group: ``piano`` (in PIANO_COMPOSERS order), then ``chorales``."""
    try:
        from music21 import corpus
    except ImportError as err:
        raise DataError("mini-music needs music21: pip install music21") from err
    paths = sorted(str(p) for p in corpus.getCorePaths())
    groups = {"piano": [], "chorales": []}
    best = {}
    for path in paths:  # one file per piece: the first format in SCORE_FORMATS
        stem, ext = os.path.splitext(path)
        if ext in SCORE_FORMATS and (stem not in best or SCORE_FORMATS.index(ext) < SCORE_FORMATS.index(best[stem][1])):
            best[stem] = (path, ext)
    for composer in PIANO_COMPOSERS:
        groups["piano"] += [p for stem, (p, _) in sorted(best.items()) if f"/corpus/{composer}/" in p]
    groups["chorales"] = [p for stem, (p, _) in sorted(best.items()) if "/corpus/bach/bwv" in p]
    return groups


def piece_id(path: str) -> str:
    """``.../corpus/beethoven/opus18no1/movement1.mxl`` -> ``beethoven-opus18no1-movement1``."""
    return os.path.splitext(path.split("/corpus/", 1)[-1])[0].replace("/", "-").replace(".", "_")


def score_notes(path: str, max_seconds: float = MAX_PIECE_SECONDS) -> list[tuple[float, float, int]]:
    """(start s, end s, MIDI pitch) of every note of a score up to ``max_seconds``; ties merged."""
    from music21 import chord, converter, note

    flat = converter.parse(path).flatten()
    notes, tied = [], {}
    for item in flat.secondsMap:
        element, start, length = item["element"], item["offsetSeconds"], item["durationSeconds"]
        if not isinstance(element, (note.Note, chord.Chord)) or not length > 0 or start >= max_seconds:
            continue
        tie = element.tie.type if element.tie is not None else None
        for pitch in element.pitches:
            midi = int(pitch.midi)
            if tie in ("stop", "continue") and midi in tied:  # a tie extends the sounding note
                index = tied[midi]
                notes[index] = (notes[index][0], min(start + length, max_seconds), midi)
            else:
                notes.append((start, min(start + length, max_seconds), midi))
            if tie in ("start", "continue"):
                tied[midi] = len(notes) - 1 if tie == "start" else tied.get(midi, len(notes) - 1)
            else:
                tied.pop(midi, None)
    return sorted(notes)


def write_midi(notes: list[tuple[float, float, int]], path: Path) -> None:
    """A one-track MIDI file (piano, 120 bpm) from (start s, end s, pitch) triples."""

    def varlen(value: int) -> bytes:
        out = [value & 0x7F]
        while value > 0x7F:
            value >>= 7
            out.insert(0, (value & 0x7F) | 0x80)
        return bytes(out)

    events = []
    for start, end, pitch in notes:
        events.append((round(start * MIDI_TICKS_PER_SECOND), 1, bytes([0x90, pitch, VELOCITY])))
        events.append((round(end * MIDI_TICKS_PER_SECOND), 0, bytes([0x80, pitch, 0])))  # offs before ons
    track, now = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20\x00\xc0\x00"), 0  # tempo 500000 us/quarter; piano
    for tick, _, message in sorted(events):
        track += varlen(tick - now) + message
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = (
        b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + (480).to_bytes(2, "big")
    )
    path.write_bytes(header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track))


def render_midi(midi_path: Path, wav_path: Path):
    """FluidSynth's fast render of a MIDI file at 24 kHz (no reverb or chorus): a float tensor."""
    need_tool("fluidsynth", "fluidsynth")
    if not SOUNDFONT.is_file():
        raise DataError(f"{SOUNDFONT} is missing; sudo apt-get install fluid-soundfont-gm")
    run_tool(
        [
            "fluidsynth",
            "-ni",
            "-q",
            "-R",
            "0",
            "-C",
            "0",
            "-g",
            "0.5",
            "-r",
            str(SAMPLE_RATE),
            "-F",
            str(wav_path),
            str(SOUNDFONT),
            str(midi_path),
        ]
    )
    wav = load_audio(wav_path)
    loud = (wav.abs() > SILENT_PEAK).nonzero()
    return wav[: int(loud[-1]) + SAMPLE_RATE // 2] if len(loud) else wav  # drop the silent release tail


def _render_piece(task: dict) -> dict:
    """Worker: one score -> MIDI -> audio -> 10-30 s segments in ``_work/pieces``."""
    root, pid = Path(task["root"]), task["piece"]
    work = root / "_work" / "pieces"
    (root / "midi").mkdir(exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    try:
        notes = score_notes(task["path"])
        if not notes:
            raise AudioError("the score holds no notes")
        midi = root / "midi" / f"{pid}.mid"
        write_midi(notes, midi)
        wav = render_midi(midi, work / f"{pid}.wav")
    except Exception as err:  # music21 raises many kinds on odd scores: one bad piece never stops the build
        return {"piece": pid, "skip": {"item": pid, "reason": f"{type(err).__name__}: {err}"[:300]}}
    if float(wav.abs().max()) < SILENT_PEAK:
        return {"piece": pid, "skip": {"item": pid, "reason": "silent (peak below -60 dBFS)"}}
    wav = normalise_peak(wav)
    segments = []
    for index, (clip, _) in enumerate(pack_clips([wav], *task["clip_seconds"])):
        save_audio(work / f"{pid}-{index:02d}.wav", clip)
        segments.append(round(clip.shape[-1] / SAMPLE_RATE, 3))
    if not segments:
        return {"piece": pid, "skip": {"item": pid, "reason": f"{wav.shape[-1] / SAMPLE_RATE:.1f} s is too short"}}
    return {"piece": pid, "group": task["group"], "path": task["path"], "segments": segments}


def _render_until(pool, jobs: int, tasks: list[dict], seconds_needed: float, min_pieces: int):
    """Render pieces in order, a few ahead, until their segments add up to ``seconds_needed``.

    Which pieces are used depends only on the ordered results, never on which worker is
    fastest, so the corpus is the same for any ``--jobs``.
    """
    pending, kept, skipped, total = [], [], [], 0.0
    queue = list(tasks)
    with tqdm(total=round(seconds_needed), desc=f"mini-music ({tasks[0]['group'] if tasks else ''})", unit="s") as bar:
        while total < seconds_needed or len(kept) < min_pieces:
            while queue and len(pending) < 2 * jobs:  # a few pieces ahead keep every worker busy
                pending.append(pool.submit(_render_piece, queue.pop(0)))
            if not pending:
                break
            result = pending.pop(0).result()
            if "skip" in result:
                skipped.append(result["skip"])
                continue
            kept.append(result)
            total += sum(result["segments"])
            bar.update(round(sum(result["segments"])))
    for future in pending:  # rendered ahead and not needed; their files are removed with _work
        future.cancel()
    return kept, skipped


def _assign_pieces(pieces: list[dict], budgets: dict, share: float) -> dict[str, str]:
    """piece -> split: seeded shuffle, then test and validation take pieces until full."""
    order = sorted(pieces, key=lambda p: p["piece"])
    random.Random(SEED).shuffle(order)
    splits, cursor = {}, 0
    for reserve, split in ((2, "test"), (1, "validation")):  # leave a piece for each later split
        seconds = 0.0
        while cursor < len(order) - reserve and (seconds == 0 or seconds < budgets[split] * share):
            splits[order[cursor]["piece"]] = split
            seconds += sum(order[cursor]["segments"])
            cursor += 1
    for piece in order[cursor:]:
        splits[piece["piece"]] = "train"
    return splits


def build_mini_music(root: Path, spec: CorpusSpec, budgets: dict, jobs: int, **_) -> tuple[list, list, dict]:
    groups = music21_pieces()
    total = sum(budgets.values())
    rows, skipped, about = [], [], {"pieces": {}}
    with worker_pool(jobs) as pool:
        for group, share in (("piano", 1 - CHORALE_SHARE), ("chorales", CHORALE_SHARE)):
            tasks = [
                {"root": str(root), "path": p, "piece": piece_id(p), "group": group, "clip_seconds": spec.clip_seconds}
                for p in groups[group]
            ]
            kept, group_skipped = _render_until(pool, jobs, tasks, total * share * 1.05, min_pieces=3)
            skipped += group_skipped
            splits = _assign_pieces(kept, budgets, share)
            for piece in kept:
                split = splits[piece["piece"]]
                about["pieces"].setdefault(split, []).append(piece["piece"])
                for index, seconds in enumerate(piece["segments"]):
                    clip_id = f"{piece['piece']}-{index:02d}"
                    path = Path("audio") / split / f"{clip_id}.wav"
                    (root / path).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(root / "_work" / "pieces" / f"{clip_id}.wav", root / path)
                    rows.append(
                        {
                            "id": clip_id,
                            "split": split,
                            "path": str(path),
                            "seconds": seconds,
                            "source": "music21+fluidsynth",
                            "speaker": "FluidR3 GM piano",
                            "piece": piece["path"].split("/corpus/", 1)[-1],
                            "midi": f"midi/{piece['piece']}.mid",
                        }
                    )
    used = {Path(r["midi"]).stem for r in rows}
    for midi in (root / "midi").glob("*.mid"):  # pieces rendered ahead but not used
        if midi.stem not in used:
            midi.unlink()
    rows.sort(key=lambda r: (spec.splits.index(r["split"]), r["id"]))
    return rows, skipped, about
