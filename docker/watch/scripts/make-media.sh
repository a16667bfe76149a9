#!/bin/sh
# Generates the demo's videos with ffmpeg (Debian package `ffmpeg`): no binary media is kept in
# the repository. VP8 + Opus in WebM, which every current browser (Debian's chromium included)
# plays. Small and quick to make: 640x360, 24 fps, a keyframe every second (cheap seeking).
#
#   sh scripts/make-media.sh [output directory, default dist/media]
#
# Files that already exist are kept; set FORCE=1 to remake them.
set -eu

out="${1:-dist/media}"
mkdir -p "$out"

if ! command -v ffmpeg >/dev/null 2>&1; then
  echo "make-media: ffmpeg not found (Debian/Ubuntu: apt-get install ffmpeg)" >&2
  exit 1
fi

make_video() { # file seconds lavfi-video-source
  file="$out/$1"; seconds="$2"; source="$3"
  if [ -s "$file" ] && [ "${FORCE:-0}" != "1" ]; then
    echo "make-media: $file exists"
    return 0
  fi
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "$source=size=640x360:rate=24:duration=$seconds" \
    -f lavfi -i "anullsrc=channel_layout=stereo:sample_rate=48000" \
    -t "$seconds" -shortest \
    -c:v libvpx -deadline realtime -cpu-used 8 -b:v 400k -g 24 -pix_fmt yuv420p \
    -c:a libopus -b:a 24k \
    "$file.tmp.webm"
  mv "$file.tmp.webm" "$file"
  echo "make-media: wrote $file (${seconds} s)"
}

# The content: 60 s of the classic test pattern (it shows a running frame counter).
make_video content.webm 60 testsrc
# The ads: distinct patterns so that an ad is easy to tell from the content.
make_video ad-spring-sale.webm 6 smptebars
make_video ad-morning-coffee.webm 4 testsrc2
make_video ad-city-bikes.webm 4 rgbtestsrc
