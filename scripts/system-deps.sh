#!/usr/bin/env bash
# Debian packages the project needs beyond Python: a TrueType CJK font for the certificate PDF
# (reportlab embeds TrueType outlines only) and Chromium for the browser tests.
# Installs what is missing when run as root with apt; otherwise says what to install.
set -euo pipefail
need=()
fc-list 2>/dev/null | grep -qi "wqy-zenhei" || [ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v fc-list >/dev/null || need+=(fontconfig)
if [ "${GJJ_SKIP_BROWSER:-0}" != "1" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "please install these Debian packages (as root): ${need[*]}" >&2
  echo "(the certificate PDF needs the font; browser tests are skipped without Chromium)" >&2
fi
