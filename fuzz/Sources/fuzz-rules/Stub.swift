@_cdecl("LLVMFuzzerTestOneInput") public func f(_ s: UnsafeRawPointer, _ c: Int) -> CInt { 0 }
