#!/usr/bin/env bash
# Debian packages the tests need: PostgreSQL (team-server tests), Chromium and its
# driver (browser tests), LibreOffice (opens exported XLSX/DOCX), espeak-ng (speaks the
# synthetic recordings of the transcription tests). Installs only
# what is missing; apt's package cache is reused between runs.
set -euo pipefail
need=()
[ -d /usr/lib/postgresql ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v soffice >/dev/null || need+=(libreoffice-writer-nogui libreoffice-calc-nogui)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing ${need[*]}" >&2
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null
