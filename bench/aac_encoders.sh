#!/usr/bin/env bash
# Benchmark (not a test): the AAC encoders Debian's GStreamer offers, as the worker's egress uses
# them (48 kHz stereo S16 in, LIVEDUB_AUDIO_BITRATE out), on speech over music (colobot's
# soundtrack + a librivox reading). Prints each encoder's CPU as % of one core at real time
# (the pipeline's CPU minus the same pipeline without an encoder; the conversion each encoder
# needs from S16 is counted as its cost, as in the egress) and a crude quality figure:
# the signal-to-noise ratio of the decoded audio against the input, aligned on its priming.
#   bench/aac_encoders.sh [seconds=60] [bitrate=128000]
set -euo pipefail
seconds="${1:-60}"
bitrate="${2:-128000}"
music=/usr/share/games/colobot/music/Constructive.ogg
speech=/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0930.wav
work="$(mktemp -d /tmp/livedub-aac.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The speech repeats every 5 s over the music, 48 kHz stereo as the worker hands it to egress.
ffmpeg -v error -stream_loop -1 -i "$music" -stream_loop -1 -i "$speech" -filter_complex \
  "[0:a]aresample=48000,volume=0.5[m];[1:a]aresample=48000,apad=pad_dur=2[s];[m][s]amix=inputs=2:duration=first:normalize=0,aformat=channel_layouts=stereo" \
  -t "$seconds" -ar 48000 -ac 2 -c:a pcm_s16le "$work/in.wav"

cpu_of() {  # gst-launch pipeline description -> user+sys seconds (best of 3: less noise)
  local best=""
  for _ in 1 2 3; do
    local t
    t=$( { /usr/bin/time -f "%U %S" gst-launch-1.0 -q $1 >/dev/null; } 2>&1 | tail -n 1 | awk '{print $1 + $2}')
    if [[ -z "$best" ]] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a < b)}'; then best="$t"; fi
  done
  echo "$best"
}
src="filesrc location=$work/in.wav ! wavparse ! audioconvert ! audio/x-raw,format=S16LE,channels=2"
base=$(cpu_of "$src ! fakesink")

snr_of() {  # decoded wav -> SNR in dB against the input, after finding the encoder's delay
  python3 - "$work/in.wav" "$1" <<'PY'
import array, math, sys, wave
def mono(path):
    with wave.open(path) as w:
        a = array.array("h", w.readframes(w.getnframes()))
    return [(a[i] + a[i + 1]) * 0.5 for i in range(0, len(a) - 1, 2)]
ref, out = mono(sys.argv[1]), mono(sys.argv[2])
# The delay (priming) from a 0.1 s window 10 s in, lags 0..4096.
at, n = 480000 if len(ref) > 500000 else len(ref) // 2, 4800
win = ref[at:at + n]
best = max(range(0, 4097), key=lambda lag: sum(x * y for x, y in zip(win, out[at + lag:at + lag + n])))
sig = noise = 0.0
for i in range(48000, min(len(ref), len(out) - best) - 48000):
    x = ref[i]; e = out[i + best] - x
    sig += x * x; noise += e * e
print(f"{10 * math.log10(sig / max(noise, 1e-9)):.1f} {best}")
PY
}

# Each line: an encoder as the egress would configure it (element + properties).
encoders=("avenc_aac" "avenc_aac aac-coder=fast" "voaacenc")
printf "%-26s %12s %12s %10s\n" encoder "% of a core" "SNR (dB)" "delay"
for desc in "${encoders[@]}"; do
  enc="${desc%% *}"
  name="${desc// /_}"
  gst-inspect-1.0 "$enc" >/dev/null 2>&1 || { printf "%-26s %s\n" "$desc" "not installed"; continue; }
  cpu=$(cpu_of "$src ! audioconvert ! $desc bitrate=$bitrate ! aacparse ! audio/mpeg,stream-format=adts ! filesink location=$work/$name.aac")
  ffmpeg -v error -y -i "$work/$name.aac" -ar 48000 -ac 2 -c:a pcm_s16le "$work/$name.wav"
  read -r snr delay < <(snr_of "$work/$name.wav")
  printf "%-26s %12.2f %12s %10s\n" "$desc" "$(awk -v c="$cpu" -v b="$base" -v s="$seconds" 'BEGIN{print (c - b) / s * 100}')" \
    "$snr" "$delay"
done
echo "($seconds s of speech over music, $bitrate bit/s; baseline pipeline without an encoder: ${base} s CPU)"
