#!/usr/bin/env python3
"""Analysis half of bench/captions_timing.sh (run that, not this).

prepare: picks held-out prompts, writes the speech track and where each prompt speaks.
report:  places every caption cue (WebVTT journal) and every CEA-608 caption read back from the
         recorded output against where the prompts were spoken, on the input's timeline.
"""
import audioop
import gzip
import json
import re
import statistics
import subprocess
import sys
import wave

WINDOW_S = 0.02
ONSET_DB = -30.0  # a window this far below the prompt's loudest one is not speech
MATCH_SLACK_S = 0.25  # the bound: a cue starts within its phrase, give or take this


def speech_span(path):
    """First and last 20 ms window within ONSET_DB of the loudest one, in s."""
    with wave.open(path) as w:
        rate, width = w.getframerate(), w.getsampwidth()
        frames = w.readframes(w.getnframes())
    step = int(rate * WINDOW_S) * width
    levels = [audioop.rms(frames[i:i + step], width) for i in range(0, len(frames) - step + 1, step)]
    floor = max(levels) * 10 ** (ONSET_DB / 20)
    loud = [i for i, v in enumerate(levels) if v >= floor]
    return loud[0] * WINDOW_S, (loud[-1] + 1) * WINDOW_S, len(frames) / width / rate


def prepare(sounds, transcripts, count, lead_s, gap_s, out_list):
    text = {}
    with gzip.open(transcripts, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"^([a-z0-9-]+): (.+)$", line.strip())
            if m:
                text[m.group(1)] = m.group(2)
    candidates = []
    for key in sorted(text):
        path = f"{sounds}/{key}.wav"
        try:
            onset, offset, length = speech_span(path)
        except (FileNotFoundError, wave.Error):
            continue
        # One phrase each (the worker cuts at 4 s) with a few words to translate.
        if 1.5 <= offset - onset <= 3.8 and len(text[key].split()) >= 3:
            candidates.append((key, onset, offset, length))
    step = max(1, len(candidates) // count)
    chosen = candidates[::step][:count]
    at = lead_s
    prompts = []
    for key, onset, offset, length in chosen:
        prompts.append({"key": key, "file": f"{sounds}/{key}.wav", "text": text[key], "start_s": at,
                        "onset_s": at + onset, "offset_s": at + offset})
        at += length + gap_s
    with open(out_list, "w") as f:
        json.dump({"prompts": prompts, "seconds": at}, f, indent=1)
    for p in prompts:
        print(p["file"])


def words(text):
    return re.findall(r"[\w']+", re.sub(r"<[^>]*>|{[^}]*}", " ", text).lower())


def read_srt(text):
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.strip().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"(\d+):(\d+):(\d+)[,.](\d+) --> (\d+):(\d+):(\d+)[,.](\d+)", line)
            if m:
                g = [int(x) for x in m.groups()]
                start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
                end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
                cues.append({"start_s": start, "end_s": end, "text": " ".join(lines[i + 1:])})
                break
    return cues


def ms(values):
    if not values:
        return "none"
    v = sorted(values)
    return "median %+.0f ms, p90 %+.0f ms, worst %+.0f ms" % (
        statistics.median(v) * 1000, v[min(len(v) - 1, int(0.9 * len(v)))] * 1000, max(v, key=abs) * 1000)


def report(prompt_list, journal, probe_json, flv, langs):
    prompts = json.load(open(prompt_list))["prompts"]
    offset_s = json.load(open(probe_json))["pts_offset_ms"] / 1000  # output time = input time + offset
    cues = {}
    for line in open(journal, encoding="utf-8"):
        try:
            cue = json.loads(line)
        except json.JSONDecodeError:
            continue
        cues.setdefault(cue["lang"], []).append(cue)

    def prompt_for(start):
        for p in prompts:
            if start <= p["offset_s"] + MATCH_SLACK_S:
                return p
        return None

    print(f"{len(prompts)} held-out prompts (asterisk-core-sounds-en), {prompts[-1]['offset_s']:.0f} s of stream")
    for lang in langs:
        found = cues.get(lang, [])
        starts, starts_key, ends, outside, covered = [], [], [], 0, set()
        words_in, words_all = 0, 0
        for cue in found:
            start = cue["start_ms"] / 1000 - offset_s
            end = cue["end_ms"] / 1000 - offset_s
            p = prompt_for(start)
            if p is None or start < p["onset_s"] - MATCH_SLACK_S:
                outside += 1
                continue
            covered.add(p["key"])
            starts.append(start - p["onset_s"])
            starts_key.append(p["key"])
            if cue["kind"] == "source":
                ends.append(end - p["offset_s"])
                reference = set(words(p["text"]))
                for w in words(cue["text"]):
                    words_all += 1
                    words_in += w in reference
        print(f"{lang}: {len(found)} cues, {len(covered)}/{len(prompts)} prompts captioned, "
              f"{outside} cues starting outside any prompt (±{MATCH_SLACK_S * 1000:.0f} ms)")
        missing = [p["key"] for p in prompts if p["key"] not in covered]
        if missing:
            print(f"    not captioned: {' '.join(missing)}")
        print(f"    cue start - spoken onset: {ms(starts)}; over {MATCH_SLACK_S * 1000:.0f} ms: "
              f"{' '.join(k for k, s in zip(starts_key, starts) if abs(s) > MATCH_SLACK_S) or 'none'}")
        late = sum(1 for s in starts if s > 0)
        print(f"    cue starts after the onset: {late}/{len(starts)}")
        if ends:
            print(f"    source cue end - spoken end: {ms(ends)}")
            print(f"    source cue words in the prompt's transcript: {words_in}/{words_all}")
    if flv:
        start = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", flv],
                                     capture_output=True, text=True, check=True).stdout)
        srt = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", f"movie={flv}[out0+subcc]",
                              "-map", "0:s", "-f", "srt", "-"], capture_output=True, text=True, check=True).stdout
        lang = langs[1]
        vtt = [{"start_s": c["start_ms"] / 1000, "end_s": c["end_ms"] / 1000, "text": c["text"]} for c in cues.get(lang, [])]
        lags, matched, total, orphans = [], 0, 0, 0
        embedded = read_srt(srt)
        for caption in embedded:
            caption_start = caption["start_s"] + start
            best = None
            for cue in vtt:
                if cue["start_s"] <= caption_start + 0.5 and caption_start < cue["end_s"]:
                    best = cue
            if best is None:
                orphans += 1
                continue
            cue_words = words(best["text"])
            caption_words = words(caption["text"])
            total += len(caption_words)
            matched += sum(1 for w in caption_words if w in cue_words)
            if caption_words and cue_words and caption_words[0] == cue_words[0]:
                lags.append(caption_start - best["start_s"])
        print(f"CEA-608 in the {lang} output: {len(embedded)} captions, {orphans} matching no cue, "
              f"words matching their cue {matched}/{total}")
        print(f"    caption shown - cue start: {ms(lags)}")


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7])
    else:
        report(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] or None, sys.argv[6].split(","))
