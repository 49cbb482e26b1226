# Sourced by the ci/ scripts. `sudo` resets PATH, so find the Swift toolchain where installers
# put it when it is not on PATH already.
if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin \
           "${SUDO_USER:+$(getent passwd "$SUDO_USER" | cut -d: -f6)/.local/share/swiftly/bin}" \
           "${HOME:+$HOME/.local/share/swiftly/bin}"; do
    if [ -n "$d" ] && [ -x "$d/swift" ]; then PATH="$d:$PATH"; export PATH; break; fi
  done
fi
