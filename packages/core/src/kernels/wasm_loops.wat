;; Memory loops for the wasm backend's training kernels (wasm_loops.ts has why and the TypeScript
;; signatures). The module imports the backend's own memory, so the loops run over its tensors in
;; place. Every address and length is in bytes; strides may exceed the run (gaps are skipped).
;;
;; Compiled by wabt into wasm_loops.generated.ts: `pnpm --filter @ifan/core wat` after an edit
;; (test/wasm-loops.test.ts fails while the generated file is out of date).
;;
;; Every loop has one shape: `(block $done (loop $next (br_if $done <exit>) <body> (br $next)))`.
;; The per-channel loops go over `n` pixels of `c16` bytes (channels x 4, a multiple of 16), four
;; float32 channels at a time; their vectors `a`, `b`, `k`, `m`, `shift`, `mean` hold one value per
;; channel. v128 accesses are marked `align=1`: nothing about a tensor's offset is assumed.
(module
  (import "env" "memory" (memory 0))

  ;; `count` times: copy `bytes` from `src` to `dst`, then advance `dst` by `dstStride` and `src` by
  ;; `srcStride`.
  (func (export "copyRuns")
    (param $dst i32) (param $src i32) (param $bytes i32) (param $count i32) (param $dstStride i32) (param $srcStride i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $count)))
        (memory.copy (local.get $dst) (local.get $src) (local.get $bytes))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
        (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $next))))

  ;; Transposes a [rows, cols] matrix of 32-bit words at `src` (rows contiguous) into `cols` rows of
  ;; `rows` words at `dst`, `dst + dstStride`, ... (the destination can be a window of a larger matrix).
  (func (export "transpose32")
    (param $dst i32) (param $src i32) (param $rows i32) (param $cols i32) (param $dstStride i32)
    (local $c i32) (local $r i32) (local $s i32) (local $d i32) (local $srcRow i32)
    (local.set $srcRow (i32.mul (local.get $cols) (i32.const 4)))
    (local.set $c (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
        ;; column c of the source becomes row c of the destination
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $c) (i32.const 4))))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $c) (local.get $dstStride))))
        (local.set $r (local.get $rows))
        (block $columnDone
          (loop $nextWord
            (br_if $columnDone (i32.eqz (local.get $r)))
            (i32.store (local.get $d) (i32.load (local.get $s)))
            (local.set $s (i32.add (local.get $s) (local.get $srcRow)))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (local.set $r (i32.sub (local.get $r) (i32.const 1)))
            (br $nextWord)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next))))

  ;; dst = y > 0 ? dy : 0, over `bytes` (a multiple of 16) of floats.
  (func (export "reluGrad")
    (param $dst i32) (param $dy i32) (param $y i32) (param $bytes i32)
    (local $i i32)
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
        (v128.store align=1 (i32.add (local.get $dst) (local.get $i))
          (v128.and
            (v128.load align=1 (i32.add (local.get $dy) (local.get $i)))
            (f32x4.gt (v128.load align=1 (i32.add (local.get $y) (local.get $i))) (v128.const i32x4 0 0 0 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; dst = x * a + b
  (func (export "channelAffine")
    (param $dst i32) (param $x i32) (param $n i32) (param $c16 i32) (param $a i32) (param $b i32)
    (local $c i32)
    (block $done
      (loop $nextPixel
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $c (i32.const 0))
        (block $pixelDone
          (loop $nextChannels
            (br_if $pixelDone (i32.ge_u (local.get $c) (local.get $c16)))
            (v128.store align=1 (i32.add (local.get $dst) (local.get $c))
              (f32x4.add
                (f32x4.mul
                  (v128.load align=1 (i32.add (local.get $x) (local.get $c)))
                  (v128.load align=1 (i32.add (local.get $a) (local.get $c))))
                (v128.load align=1 (i32.add (local.get $b) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $nextChannels)))
        (local.set $dst (i32.add (local.get $dst) (local.get $c16)))
        (local.set $x (i32.add (local.get $x) (local.get $c16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $nextPixel))))

  ;; dst = u * a + (v - m) * b + k
  (func (export "channelAffine2")
    (param $dst i32) (param $u i32) (param $v i32) (param $n i32) (param $c16 i32)
    (param $a i32) (param $m i32) (param $b i32) (param $k i32)
    (local $c i32)
    (block $done
      (loop $nextPixel
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $c (i32.const 0))
        (block $pixelDone
          (loop $nextChannels
            (br_if $pixelDone (i32.ge_u (local.get $c) (local.get $c16)))
            (v128.store align=1 (i32.add (local.get $dst) (local.get $c))
              (f32x4.add
                (f32x4.add
                  (f32x4.mul
                    (v128.load align=1 (i32.add (local.get $u) (local.get $c)))
                    (v128.load align=1 (i32.add (local.get $a) (local.get $c))))
                  (f32x4.mul
                    (f32x4.sub
                      (v128.load align=1 (i32.add (local.get $v) (local.get $c)))
                      (v128.load align=1 (i32.add (local.get $m) (local.get $c))))
                    (v128.load align=1 (i32.add (local.get $b) (local.get $c)))))
                (v128.load align=1 (i32.add (local.get $k) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $nextChannels)))
        (local.set $dst (i32.add (local.get $dst) (local.get $c16)))
        (local.set $u (i32.add (local.get $u) (local.get $c16)))
        (local.set $v (i32.add (local.get $v) (local.get $c16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $nextPixel))))

  ;; acc[c] += x - shift; acc[C + c] += (x - shift)^2, in float32 (`acc` holds two vectors, the
  ;; second at acc + c16).
  (func (export "channelSums")
    (param $x i32) (param $n i32) (param $c16 i32) (param $shift i32) (param $acc i32)
    (local $c i32) (local $accHi i32) (local $d v128)
    (local.set $accHi (i32.add (local.get $acc) (local.get $c16)))
    (block $done
      (loop $nextPixel
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $c (i32.const 0))
        (block $pixelDone
          (loop $nextChannels
            (br_if $pixelDone (i32.ge_u (local.get $c) (local.get $c16)))
            (local.set $d
              (f32x4.sub
                (v128.load align=1 (i32.add (local.get $x) (local.get $c)))
                (v128.load align=1 (i32.add (local.get $shift) (local.get $c)))))
            (v128.store align=1 (i32.add (local.get $acc) (local.get $c))
              (f32x4.add (v128.load align=1 (i32.add (local.get $acc) (local.get $c))) (local.get $d)))
            (v128.store align=1 (i32.add (local.get $accHi) (local.get $c))
              (f32x4.add
                (v128.load align=1 (i32.add (local.get $accHi) (local.get $c)))
                (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $nextChannels)))
        (local.set $x (i32.add (local.get $x) (local.get $c16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $nextPixel))))

  ;; acc[c] += dy; acc[C + c] += dy * (x - mean), in float32 (`acc` as in channelSums).
  (func (export "channelDotSums")
    (param $dy i32) (param $x i32) (param $n i32) (param $c16 i32) (param $mean i32) (param $acc i32)
    (local $c i32) (local $accHi i32) (local $g v128)
    (local.set $accHi (i32.add (local.get $acc) (local.get $c16)))
    (block $done
      (loop $nextPixel
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $c (i32.const 0))
        (block $pixelDone
          (loop $nextChannels
            (br_if $pixelDone (i32.ge_u (local.get $c) (local.get $c16)))
            (local.set $g (v128.load align=1 (i32.add (local.get $dy) (local.get $c))))
            (v128.store align=1 (i32.add (local.get $acc) (local.get $c))
              (f32x4.add (v128.load align=1 (i32.add (local.get $acc) (local.get $c))) (local.get $g)))
            (v128.store align=1 (i32.add (local.get $accHi) (local.get $c))
              (f32x4.add
                (v128.load align=1 (i32.add (local.get $accHi) (local.get $c)))
                (f32x4.mul
                  (local.get $g)
                  (f32x4.sub
                    (v128.load align=1 (i32.add (local.get $x) (local.get $c)))
                    (v128.load align=1 (i32.add (local.get $mean) (local.get $c)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $nextChannels)))
        (local.set $dy (i32.add (local.get $dy) (local.get $c16)))
        (local.set $x (i32.add (local.get $x) (local.get $c16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $nextPixel))))

  ;; acc64[i] += acc32[i] in float64, then acc32[i] = 0, for `count` values.
  (func (export "flush")
    (param $acc32 i32) (param $acc64 i32) (param $count i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $count)))
        (f64.store (local.get $acc64)
          (f64.add (f64.load (local.get $acc64)) (f64.promote_f32 (f32.load (local.get $acc32)))))
        (f32.store (local.get $acc32) (f32.const 0))
        (local.set $acc32 (i32.add (local.get $acc32) (i32.const 4)))
        (local.set $acc64 (i32.add (local.get $acc64) (i32.const 8)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $next))))

  ;; One output row of the gradient of a 2x2, stride-2 max pool over `ow` windows: `x` and `dx` point
  ;; at the window row's first input row (`rowBytes` apart), `dy` at the output row. Each dy goes to the
  ;; first maximum of its window in row-major order (the cpu backend's choice), the other three get 0.
  ;; A window's four pixels: a (x), b (x + c16), cc (x + rowBytes), d (x + rowBytes + c16); the masks
  ;; sa, sb, sc select the first maximum, the fourth pixel gets what none of them selects.
  (func (export "maxPoolGradRow")
    (param $dx i32) (param $dy i32) (param $x i32) (param $ow i32) (param $c16 i32) (param $rowBytes i32)
    (local $c i32) (local $xb i32) (local $xc i32) (local $xd i32) (local $db i32) (local $dc i32) (local $dd i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $d v128) (local $m v128)
    (local $sa v128) (local $sb v128) (local $sc v128) (local $g v128)
    (block $done
      (loop $nextWindow
        (br_if $done (i32.eqz (local.get $ow)))
        (local.set $xb (i32.add (local.get $x) (local.get $c16)))
        (local.set $xc (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $xd (i32.add (local.get $xc) (local.get $c16)))
        (local.set $db (i32.add (local.get $dx) (local.get $c16)))
        (local.set $dc (i32.add (local.get $dx) (local.get $rowBytes)))
        (local.set $dd (i32.add (local.get $dc) (local.get $c16)))
        (local.set $c (i32.const 0))
        (block $windowDone
          (loop $nextChannels
            (br_if $windowDone (i32.ge_u (local.get $c) (local.get $c16)))
            (local.set $a (v128.load align=1 (i32.add (local.get $x) (local.get $c))))
            (local.set $b (v128.load align=1 (i32.add (local.get $xb) (local.get $c))))
            (local.set $cc (v128.load align=1 (i32.add (local.get $xc) (local.get $c))))
            (local.set $d (v128.load align=1 (i32.add (local.get $xd) (local.get $c))))
            (local.set $m
              (f32x4.max (f32x4.max (local.get $a) (local.get $b)) (f32x4.max (local.get $cc) (local.get $d))))
            ;; v128.andnot(p, q) is p & ~q
            (local.set $sa (f32x4.eq (local.get $a) (local.get $m)))
            (local.set $sb (v128.andnot (f32x4.eq (local.get $b) (local.get $m)) (local.get $sa)))
            (local.set $sc
              (v128.andnot (f32x4.eq (local.get $cc) (local.get $m)) (v128.or (local.get $sa) (local.get $sb))))
            (local.set $g (v128.load align=1 (i32.add (local.get $dy) (local.get $c))))
            (v128.store align=1 (i32.add (local.get $dx) (local.get $c)) (v128.and (local.get $g) (local.get $sa)))
            (v128.store align=1 (i32.add (local.get $db) (local.get $c)) (v128.and (local.get $g) (local.get $sb)))
            (v128.store align=1 (i32.add (local.get $dc) (local.get $c)) (v128.and (local.get $g) (local.get $sc)))
            (v128.store align=1 (i32.add (local.get $dd) (local.get $c))
              (v128.andnot (local.get $g) (v128.or (v128.or (local.get $sa) (local.get $sb)) (local.get $sc))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $nextChannels)))
        ;; next window: x and dx move two pixels, dy one
        (local.set $x (i32.add (local.get $x) (i32.add (local.get $c16) (local.get $c16))))
        (local.set $dx (i32.add (local.get $dx) (i32.add (local.get $c16) (local.get $c16))))
        (local.set $dy (i32.add (local.get $dy) (local.get $c16)))
        (local.set $ow (i32.sub (local.get $ow) (i32.const 1)))
        (br $nextWindow))))
)
