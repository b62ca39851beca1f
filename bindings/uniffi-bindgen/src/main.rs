//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings of fieldsync from the built
//! library (see `bindings/README.md`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
