{
  "targets": [
    {
      "target_name": "tsmpi_reduce",
      "sources": ["native/reduce.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-fast-math", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-psabi"],
      "cflags_cc!": ["-std=gnu++17", "-O2"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3", "-ffp-contract=off"]
      }
    }
  ]
}
