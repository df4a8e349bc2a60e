# Build description of the C++ addon (node-gyp). Every native/src/*.cc file is compiled, so a new
# kernel file needs no edit here. Baseline ISA is x86-64 with AVX2+FMA; AVX-512 kernels live in
# separately targeted code (#pragma GCC target) chosen at run time by CPU detection.
# OpenBLAS is never linked: native/src/blas.cc dlopen()s it at run time when present.
{
  "targets": [
    {
      "target_name": "chimera_native",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native/src').filter(f => f.endsWith('.cc')).sort().map(f => 'native/src/' + f).join(' ')\")"
      ],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include\")",
        "native/src"
      ],
      "defines": [ "NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED" ],
      "cflags!": [ "-fno-exceptions", "-O0", "-O2", "-Os" ],
      "cflags_cc!": [ "-fno-exceptions", "-fno-rtti", "-std=gnu++17" ],
      "cflags": [ "-O3", "-fno-math-errno", "-fno-trapping-math", "-pthread" ],
      "cflags_cc": [ "-std=c++17", "-fexceptions", "-O3", "-Wno-unused-function", "-Wno-cast-function-type", "-Wno-uninitialized", "-Wno-maybe-uninitialized" ],
      "ldflags": [ "-pthread" ],
      "libraries": [ "-ldl" ],
      "conditions": [
        [ "target_arch=='x64'", {
          "cflags": [ "-mavx2", "-mfma", "-mf16c" ],
          "cflags_cc": [ "-mavx2", "-mfma", "-mf16c" ]
        } ]
      ]
    }
  ]
}
