#!/usr/bin/env bash
# Builds the labelled voice-activity set (16 kHz mono WAV) from real material Debian ships:
#   speech/  human speech: pocketsphinx-testdata's 5 librivox recordings + every 8th asterisk
#            English prompt (telephone speech, 8 kHz, upsampled)
#   music/   30 s (from 0:30) of each colobot-common-sounds music track
#   noise/   20 s each of white, pink and brown noise (sox), at -30 dBFS
#   mixed/   speech over music: each speech file over a music track (peaks 6 dB apart); .clean
#            beside each holds its speech alone, for the labels
# The fixed split (README "Voice activity"): tune = odd-numbered items, test = even-numbered.
#   bench/vad_compare/make-set.sh OUTDIR
set -euo pipefail
out="${1:?usage: make-set.sh OUTDIR}"
mkdir -p "$out"/{speech,music,noise,mixed}
librivox=/usr/share/pocketsphinx/test/data/librivox
asterisk=/usr/share/asterisk/sounds/en_US_f_Allison
music_dir=/usr/share/games/colobot/music
for dir in "$librivox" "$asterisk" "$music_dir"; do
  [[ -d "$dir" ]] || { echo "make-set: $dir is missing (scripts/setup installs it)" >&2; exit 1; }
done

n=0
for f in "$librivox"/*.wav; do cp "$f" "$out/speech/$(printf '%03d' $n)-$(basename "$f")"; n=$((n + 1)); done
i=0
for f in $(find "$asterisk" -maxdepth 1 -name '*.wav' | sort); do
  if (( i % 8 == 0 )); then sox -q "$f" -r 16000 -c 1 "$out/speech/$(printf '%03d' $n)-$(basename "$f")"; n=$((n + 1)); fi
  i=$((i + 1))
done
m=0
for f in $(find "$music_dir" -maxdepth 1 -name '*.ogg' | sort); do
  gst-launch-1.0 -q filesrc location="$f" ! decodebin ! audioconvert ! audioresample ! \
    audio/x-raw,rate=16000,channels=1,format=S16LE ! wavenc ! filesink location="$out/music/full.wav"
  dur=$(soxi -D "$out/music/full.wav")
  start=30; (( ${dur%.*} < 65 )) && start=0
  sox -q "$out/music/full.wav" "$out/music/$(printf '%03d' $m)-$(basename "$f" .ogg).wav" trim "$start" 30
  m=$((m + 1))
done
rm -f "$out/music/full.wav"
k=0
for colour in white pink brown; do
  sox -q -n -r 16000 -c 1 -b 16 "$out/noise/$(printf '%03d' $k)-$colour.wav" synth 20 "${colour}noise" gain -n -30
  k=$((k + 1))
done
# Speech over music: peaks normalised, speech to -6 dBFS and the music to -12 dBFS.
musics=("$out"/music/*.wav)
j=0
for f in "$out"/speech/*.wav; do
  bed="${musics[$((j % ${#musics[@]}))]}"
  len=$(soxi -D "$f")
  sox -q "$f" "$out/mixed/tmp-speech.wav" norm -6
  sox -q "$bed" "$out/mixed/tmp-bed.wav" trim 0 "$len" norm -12
  sox -q -m "$out/mixed/tmp-speech.wav" "$out/mixed/tmp-bed.wav" "$out/mixed/$(basename "$f")"
  # The clean speech alone, same gain, for the labels.
  cp "$out/mixed/tmp-speech.wav" "$out/mixed/$(basename "$f" .wav).clean"
  j=$((j + 1))
done
rm -f "$out"/mixed/tmp-*.wav
echo "make-set: $(ls "$out/speech" | wc -l) speech, $(ls "$out/music" | wc -l) music, $(ls "$out/noise" | wc -l) noise, $(ls "$out/mixed" | grep -c wav) mixed files in $out"
