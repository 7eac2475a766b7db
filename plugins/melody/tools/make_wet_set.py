#!/usr/bin/env python3
"""make_wet_set.py - a wetter-room stress set built from the dry dev clips.

    python make_wet_set.py DEV_DIR OUT_DIR

Every regular dev clip recorded without reverb is convolved with a synthetic room
(exponentially decaying, slightly darkened noise tail after an 8 ms pre-delay) with an
RT60 of 0.6, 0.8, 1.0 or 1.2 s and a direct-to-reverberant ratio of 0, 3 or 6 dB, in
turn, then normalised to -3 dBFS. The ground truth CSV is copied unchanged (reverb
tails are not part of the notes). Deterministic (seed 1). Needs numpy and scipy.
Score with the dev set's evaluate.py: python evaluate.py OUT_DIR PRED_DIR.
"""
import glob
import json
import os
import shutil
import sys

import numpy as np
import scipy.io.wavfile as wf
import scipy.signal as ss


def main():
    dev, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1)
    meta = json.load(open(os.path.join(dev, 'meta.json')))['clips']
    k = 0
    for path in sorted(glob.glob(os.path.join(dev, 'clip_*.wav'))):
        stem = os.path.basename(path)[:-4]
        if meta[stem]['reverb']:
            continue
        sr, x = wf.read(path)
        x = x.astype(np.float64) / 32768
        rt60 = [0.6, 0.8, 1.0, 1.2][k % 4]
        drr = [0, 3, 6][k % 3]
        k += 1
        n = int(rt60 * sr)
        t = np.arange(n) / sr
        tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60)
        tail[:int(0.008 * sr)] = 0
        tail = ss.lfilter([1], [1, -0.6], tail)
        ir = np.sqrt(10 ** (-drr / 10) / np.sum(tail ** 2)) * tail
        ir[0] = 1.0
        y = ss.fftconvolve(x, ir)[:len(x)]
        y *= 10 ** (-3 / 20) / np.max(np.abs(y))
        wf.write(os.path.join(out, stem + '.wav'), sr, (y * 32767).astype(np.int16))
        shutil.copy(os.path.join(dev, stem + '.csv'), os.path.join(out, stem + '.csv'))
        print(stem, 'RT60', rt60, 's, DRR', drr, 'dB')


if __name__ == '__main__':
    main()
