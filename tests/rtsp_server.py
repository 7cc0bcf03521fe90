"""A real RTSP camera on loopback for the tests: GStreamer's RTSP server streaming H.264.

Run with the system Python (Debian's python3-gst-1.0 and gir1.2-gst-rtsp-server-1.0; the
venv has no GStreamer): `/usr/bin/python3 tests/rtsp_server.py --port P --frames DIR`.
It plays DIR/00000.jpg, 00001.jpg, ... in a loop as a live stream at `--fps` on
rtsp://127.0.0.1:P/line, prints `ready` when it listens, and reads commands on stdin:

- `drop N`: from now on drop every N-th RTP packet (0: none), so the decoder meets
  frames with missing slices and has to conceal them, as on a lossy network;
- `quit`: stop.

A stalled camera is this process under SIGSTOP: the connection stays open, no data comes.
"""

from __future__ import annotations

import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


class Dropper:
    """Drops every `every`-th RTP packet leaving the payloader (0: none)."""

    def __init__(self) -> None:
        self.every = 0
        self.seen = 0

    def probe(self, _pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if self.every <= 0:
            return Gst.PadProbeReturn.OK
        self.seen += 1
        if self.seen % self.every == 0:
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK


def launch_line(frames: str, fps: int, gop: int) -> str:
    return (
        f'( multifilesrc location="{frames}/%05d.jpg" loop=true index=0 '
        f'caps="image/jpeg,framerate={fps}/1" ! jpegdec ! videoconvert ! '
        "video/x-raw,format=I420 ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} "
        "option-string=slice-max-size=1000 ! "  # several slices a frame: a lost packet damages one
        "rtph264pay name=pay0 pt=96 config-interval=1 mtu=1400 )"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--frames", required=True, help="folder of 00000.jpg, 00001.jpg, ...")
    parser.add_argument("--fps", type=int, default=20)
    parser.add_argument("--gop", type=int, default=40, help="frames between key frames")
    args = parser.parse_args()

    Gst.init(None)
    dropper = Dropper()
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.frames, args.fps, args.gop))
    factory.set_shared(True)  # one live stream, however many clients (as a camera)

    def configured(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
        pay = media.get_element().get_by_name("pay0")
        pay.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, dropper.probe)

    factory.connect("media-configure", configured)
    server.get_mount_points().add_factory("/line", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    loop = GLib.MainLoop()

    def commands() -> None:
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["drop"]:
                dropper.every = int(words[1])
            elif words[:1] == ["quit"]:
                break
        GLib.idle_add(loop.quit)

    threading.Thread(target=commands, daemon=True).start()
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
