{
  "targets": [
    {
      "target_name": "tsmpi_reduce",
      "sources": [
        "native/reduce.cc",
        "native/isa-scalar.cc",
        "native/isa-sse2.cc",
        "native/isa-avx2.cc",
        "native/isa-avx512.cc",
        "native/isa-avx512-zmm.cc",
        "native/isa-neon.cc",
        "native/shm.cc"
      ],
      "conditions": [["OS=='linux'", { "libraries": ["-lrt"] }]],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-fno-fast-math", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-psabi"],
      "cflags_cc!": ["-std=gnu++17"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O2", "-ffp-contract=off"]
      }
    }
  ]
}
