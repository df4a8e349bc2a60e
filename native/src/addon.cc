// Module entry point (node-addon-api): defines every function registered with CHIMERA_EXPORT
// by the kernel files, plus a few constants describing the build.
#include <napi.h>
#include <utility>
#include <vector>
#include "common.h"

namespace chimera {

namespace {
std::vector<std::pair<const char*, RawFn>>& registry() {
  static std::vector<std::pair<const char*, RawFn>> r;
  return r;
}
}  // namespace

void registerExport(const char* name, RawFn fn) { registry().emplace_back(name, fn); }

napi_value undefinedValue(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}
napi_value numberValue(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}
napi_value stringValue(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}
void throwJs(napi_env env, const std::exception& e) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  if (auto* ae = dynamic_cast<const ArgError*>(&e)) {
    if (ae->range) napi_throw_range_error(env, "ERR_CHIMERA_NATIVE", e.what());
    else napi_throw_type_error(env, "ERR_CHIMERA_NATIVE", e.what());
  } else {
    napi_throw_error(env, "ERR_CHIMERA_NATIVE", e.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto& [name, fn] : registry()) {
    napi_value f;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
    exports.Set(name, Napi::Value(env, f));
  }
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace chimera

static Napi::Object InitChimera(Napi::Env env, Napi::Object exports) { return chimera::Init(env, exports); }

NODE_API_MODULE(chimera_native, InitChimera)
