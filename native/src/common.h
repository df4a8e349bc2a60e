// Shared plumbing for the addon's N-API entry points: an export registry (so each kernel file
// registers its own functions and nothing central needs editing), a zero-copy argument reader
// over raw N-API (typed arrays are used in place: we read their data pointer), and errors.
//
// Hot entry points use raw napi_callback functions rather than Napi::CallbackInfo: that keeps a
// call with 16 arguments free of heap allocation (the dispatch budget is ~0.2 µs per call).
#pragma once
#include <node_api.h>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace chimera {

using RawFn = napi_value (*)(napi_env, napi_callback_info);

/** Adds an exported function; called from static initialisers via CHIMERA_EXPORT. */
void registerExport(const char* name, RawFn fn);

struct ExportRegistrar {
  ExportRegistrar(const char* name, RawFn fn) { registerExport(name, fn); }
};

/** Thrown inside entry points; turned into a JS TypeError/RangeError at the boundary. */
struct ArgError : std::runtime_error {
  bool range;
  ArgError(const std::string& m, bool isRange = false) : std::runtime_error(m), range(isRange) {}
};

/** Positional arguments of one call. Typed arrays are returned as pointers into JS memory. */
class Args {
 public:
  static constexpr size_t kMax = 24;
  Args(napi_env env, napi_callback_info info) : env_(env) {
    argc_ = kMax;
    if (napi_get_cb_info(env, info, &argc_, argv_, nullptr, nullptr) != napi_ok) throw ArgError("bad call");
  }
  napi_env env() const { return env_; }
  size_t count() const { return argc_; }
  napi_value raw(size_t i) const { return i < argc_ ? argv_[i] : nullptr; }

  double num(size_t i) const {
    double v;
    if (i >= argc_ || napi_get_value_double(env_, argv_[i], &v) != napi_ok) fail(i, "a number");
    return v;
  }
  int64_t i64(size_t i) const {
    double v = num(i);
    return static_cast<int64_t>(v);
  }
  /** A non-negative count or index. */
  size_t size(size_t i) const {
    double v = num(i);
    if (!(v >= 0)) fail(i, "a non-negative number");
    return static_cast<size_t>(v);
  }
  bool flag(size_t i) const {
    bool b;
    if (i < argc_ && napi_get_value_bool(env_, argv_[i], &b) == napi_ok) return b;
    return num(i) != 0;
  }
  bool isNull(size_t i) const {
    if (i >= argc_) return true;
    napi_valuetype t;
    napi_typeof(env_, argv_[i], &t);
    return t == napi_null || t == napi_undefined;
  }
  /** Float32Array data pointer; throws unless it holds at least `need` elements. */
  float* f32(size_t i, size_t need = 0) const { return static_cast<float*>(typed(i, napi_float32_array, need, "a Float32Array")); }
  float* f32OrNull(size_t i, size_t need = 0) const { return isNull(i) ? nullptr : f32(i, need); }
  int32_t* i32(size_t i, size_t need = 0) const { return static_cast<int32_t*>(typed(i, napi_int32_array, need, "an Int32Array")); }
  /** Element count of the typed array argument i. */
  size_t length(size_t i) const {
    napi_typedarray_type t;
    size_t len;
    if (i >= argc_ || napi_get_typedarray_info(env_, argv_[i], &t, &len, nullptr, nullptr, nullptr) != napi_ok) fail(i, "a typed array");
    return len;
  }

 private:
  void* typed(size_t i, napi_typedarray_type want, size_t need, const char* what) const {
    napi_typedarray_type t;
    size_t len;
    void* data;
    if (i >= argc_ || napi_get_typedarray_info(env_, argv_[i], &t, &len, &data, nullptr, nullptr) != napi_ok || t != want) fail(i, what);
    if (len < need) throw ArgError("argument " + std::to_string(i) + ": array of " + std::to_string(len) + " elements, kernel needs " + std::to_string(need), true);
    return data;
  }
  [[noreturn]] void fail(size_t i, const char* what) const { throw ArgError("argument " + std::to_string(i) + " must be " + what); }
  napi_env env_;
  size_t argc_;
  napi_value argv_[kMax];
};

napi_value undefinedValue(napi_env env);
napi_value numberValue(napi_env env, double v);
napi_value stringValue(napi_env env, const char* s);
/** Converts an exception escaping an entry point into a pending JS exception. */
void throwJs(napi_env env, const std::exception& e);

/** Wraps `napi_value body(Args&)` as a raw callback with exception translation. */
template <napi_value (*Body)(Args&)>
napi_value entry(napi_env env, napi_callback_info info) {
  try {
    Args a(env, info);
    return Body(a);
  } catch (const std::exception& e) {
    throwJs(env, e);
    return nullptr;
  }
}

}  // namespace chimera

/** Registers `napi_value fn(chimera::Args&)` as addon export `name`. */
#define CHIMERA_EXPORT(name, fn) \
  static ::chimera::ExportRegistrar chimera_export_##name(#name, &::chimera::entry<fn>)
