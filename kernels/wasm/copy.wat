;; Copies and zero fills within the kernels' shared memory (kernels/wasm/memory.ts): bulk
;; memory instructions, a native memmove and memset. The JavaScript TypedArray methods take
;; a slower path on shared buffers (a relaxed copy or fill value by value).

(module
  (import "kernels" "memory" (memory 1 65536 shared))

  ;; $bytes bytes from $src to $dst (the ranges may overlap)
  (func (export "copy") (param $dst i32) (param $src i32) (param $bytes i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $bytes)))

  ;; $bytes zero bytes at $dst
  (func (export "zero") (param $dst i32) (param $bytes i32)
    (memory.fill (local.get $dst) (i32.const 0) (local.get $bytes))))
