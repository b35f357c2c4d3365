// The translation unit of assay_test_pch (tests/CMakeLists.txt): that target compiles the
// precompiled header that every test executable reuses; this file only gives it a source.
namespace assay::tests {
/// Present so that the object library has a symbol; nothing calls it.
int pch_owner_anchor() {
  return 0;
}
}  // namespace assay::tests
