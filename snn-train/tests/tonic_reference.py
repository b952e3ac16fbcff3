"""The tonic side of snn-train/tests/events.rs: reads an event file with tonic's own
readers and prints events (x y t p per line) or frames (one frame per line, T x P x H x
W order flattened), for the Rust test to compare with ours.

usage: tonic_reference.py MODE FILE ARG
  nmnist FILE 0         tonic.io.read_mnist_file
  denoise FILE F        tonic.functional.denoise_numpy(events, filter_time=F)
  time-bins FILE T      ToFrame(sensor_size=(34, 34, 2), n_time_bins=T)
  event-bins FILE T     ToFrame(sensor_size=(34, 34, 2), n_event_bins=T)
  window FILE US        ToFrame(sensor_size=(34, 34, 2), time_window=US)
  aedat FILE 0          AEDAT 3.1 polarity events, tonic.io.get_aer_events_from_file
"""
import sys

import numpy as np
import tonic
from tonic import io
from tonic.functional import denoise_numpy, to_frame_numpy

mode, path, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


def nmnist():
    return io.read_mnist_file(path, dtype=dtype)


def show_events(ev):
    for e in ev:
        print(int(e["x"]), int(e["y"]), int(e["t"]), int(e["p"]))


def show_frames(frames):
    for f in frames:
        print(" ".join(str(int(v)) for v in f.flatten()))


sensor = (34, 34, 2)
if mode == "nmnist":
    show_events(nmnist())
elif mode == "denoise":
    show_events(denoise_numpy(nmnist(), filter_time=arg))
elif mode == "time-bins":
    show_frames(to_frame_numpy(nmnist(), sensor, n_time_bins=arg))
elif mode == "event-bins":
    show_frames(to_frame_numpy(nmnist(), sensor, n_event_bins=arg))
elif mode == "window":
    show_frames(to_frame_numpy(nmnist(), sensor, time_window=arg))
elif mode == "aedat":
    # tonic's read_dvs_ibm: the header, then every packet's events as 8-byte
    # (address, timestamp) pairs, x = bits 17-29, y = bits 2-14, p = bit 1.
    version, start = io.read_aedat_header_from_file(path)[:2]
    raw = io.get_aer_events_from_file(path, version, start)
    addr, t = raw["address"], raw["timeStamp"]
    x = (addr >> 17) & 0x1FFF
    y = (addr >> 2) & 0x1FFF
    p = (addr >> 1) & 0x1
    for i in range(len(t)):
        print(int(x[i]), int(y[i]), int(t[i]), int(p[i]))
else:
    sys.exit(f"unknown mode {mode}")
