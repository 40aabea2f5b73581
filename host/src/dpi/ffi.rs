//! The only `unsafe` code of the DPI engines: nDPI and libprotoident loaded at run time with
//! `libloading`, their function tables, and the raw memory they work on (the detection module,
//! per-flow state). Everything here is private to `dpi`; the safe wrappers enforce what the C
//! APIs need: one detection module per thread, zeroed flow memory of the size nDPI reports,
//! flow memory released through nDPI before it is freed, and libraries outliving every pointer
//! into them (each handle keeps an `Arc` of its library).
//!
//! Declared by hand (no bindgen): nDPI 4.2's `ndpi_protocol` (`{u16 master, u16 app, u32
//! category}`, returned by value), its 512-bit protocol bitmask, and the offset of the flow's
//! risk bitmap. They are only used after `ndpi_get_api_version()` returned a version this file
//! was written for ([`NDPI_SUPPORTED`]); `dpi_abi_matches_headers` (a test) compiles a probe
//! against the installed headers and compares.
#![allow(unsafe_code)]

use libloading::Library;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// nDPI API versions (`ndpi_get_api_version()`, `NDPI_API_VERSION` in `ndpi_api.h`) whose ABI
/// this module declares, with the release they belong to.
pub(crate) const NDPI_SUPPORTED: &[(u16, &str)] = &[(8668, "4.2")];

/// nDPI 4.2: `NDPI_NUM_BITS` = 512, so the protocol bitmask is 16 × u32.
const NDPI_BITMASK_WORDS: usize = 16;

/// nDPI 4.2: `offsetof(struct ndpi_flow_struct, risk)` (a `u64` bitmap of `ndpi_risk_enum`).
pub(crate) const NDPI_RISK_OFFSET: usize = 320;

/// nDPI 4.2's `ndpi_protocol`, passed and returned by value.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct NdpiProtocol {
    pub master: u16,
    pub app: u16,
    pub category: u32,
}

type InitFn = unsafe extern "C" fn(u32) -> *mut c_void;
type ModFn = unsafe extern "C" fn(*mut c_void);
type BitmaskFn = unsafe extern "C" fn(*mut c_void, *const [u32; NDPI_BITMASK_WORDS]);
type ProcessFn = unsafe extern "C" fn(*mut c_void, *mut c_void, *const u8, u16, u64) -> NdpiProtocol;
type GiveupFn = unsafe extern "C" fn(*mut c_void, *mut c_void, u8, *mut u8) -> NdpiProtocol;
type ExtraFn = unsafe extern "C" fn(*mut c_void, *mut c_void) -> u8;
type FreeFlowDataFn = unsafe extern "C" fn(*mut c_void);
type ProtoNameFn = unsafe extern "C" fn(*mut c_void, u16) -> *const c_char;
type CategoryNameFn = unsafe extern "C" fn(*mut c_void, u32) -> *const c_char;
type RiskNameFn = unsafe extern "C" fn(u32) -> *const c_char;
type U32Fn = unsafe extern "C" fn() -> u32;
type U16Fn = unsafe extern "C" fn() -> u16;
type StrFn = unsafe extern "C" fn() -> *const c_char;

/// A loaded nDPI library of a supported API version.
#[derive(Debug)]
pub(crate) struct NdpiLib {
    pub path: PathBuf,
    pub revision: String,
    pub api: u16,
    /// `ndpi_detection_get_sizeof_ndpi_flow_struct()`.
    pub flow_size: usize,
    init: InitFn,
    set_bitmask: BitmaskFn,
    finalize: ModFn,
    exit: ModFn,
    process: ProcessFn,
    giveup: GiveupFn,
    extra_possible: ExtraFn,
    free_flow_data: FreeFlowDataFn,
    proto_name: ProtoNameFn,
    category_name: CategoryNameFn,
    risk_name: RiskNameFn,
    // Last: the function pointers above point into it.
    _lib: Library,
}

/// Why a candidate nDPI file was not used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("{path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("{path}: not nDPI or too old (no symbol {symbol})")]
    Symbol { path: PathBuf, symbol: String },
    #[error("{path}: nDPI {revision} has API version {api}; netcap supports nDPI {supported} (API {supported_api})")]
    Version { path: PathBuf, revision: String, api: u16, supported: String, supported_api: String },
    #[error("{path}: {message}")]
    Init { path: PathBuf, message: String },
}

/// libloading's error with its cause (`dlopen failed: <dlerror text>`).
fn describe(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    }
}

/// Copies a C string the library owns (or "" for NULL).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid during the call.
unsafe fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Looks up `name` in `lib` as a function of type `T` and copies the pointer out.
///
/// # Safety
/// `T` must be the function's real C signature; the pointer is only valid while `lib` lives.
unsafe fn sym<T: Copy>(lib: &Library, path: &Path, name: &str) -> Result<T, LoadError> {
    // SAFETY: the caller guarantees `T` matches the symbol's type.
    unsafe { lib.get::<T>(name) }
        .map(|s| *s)
        .map_err(|_| LoadError::Symbol { path: path.to_path_buf(), symbol: name.to_string() })
}

impl NdpiLib {
    /// Loads `path`, checks its API version, and resolves the functions netcap uses.
    pub(crate) fn load(path: &Path) -> Result<NdpiLib, LoadError> {
        // SAFETY: loading a shared library runs its initialisers; nDPI's only set up its own
        // globals. The file is one the user pointed at or that the documented search found.
        let lib = unsafe { Library::new(path) }
            .map_err(|e| LoadError::Open { path: path.to_path_buf(), message: describe(&e) })?;
        // SAFETY: `u_int16_t ndpi_get_api_version(void)` and `char *ndpi_revision(void)` have
        // had these signatures in every nDPI release that has them.
        let (get_api, revision_fn) =
            unsafe { (sym::<U16Fn>(&lib, path, "ndpi_get_api_version")?, sym::<StrFn>(&lib, path, "ndpi_revision")?) };
        // SAFETY: no arguments; returns a constant.
        let api = unsafe { get_api() };
        // SAFETY: returns a pointer to a static NUL-terminated string.
        let revision = unsafe { c_string(revision_fn()) };
        if !NDPI_SUPPORTED.iter().any(|(v, _)| *v == api) {
            return Err(LoadError::Version {
                path: path.to_path_buf(),
                revision,
                api,
                supported: NDPI_SUPPORTED.iter().map(|(_, r)| *r).collect::<Vec<_>>().join(", "),
                supported_api: NDPI_SUPPORTED.iter().map(|(v, _)| v.to_string()).collect::<Vec<_>>().join(", "),
            });
        }
        // SAFETY: the API version is one whose headers these signatures were copied from.
        unsafe {
            let sizeof_flow = sym::<U32Fn>(&lib, path, "ndpi_detection_get_sizeof_ndpi_flow_struct")?;
            let flow_size = sizeof_flow() as usize;
            if !(NDPI_RISK_OFFSET + 8..=1 << 20).contains(&flow_size) {
                return Err(LoadError::Init {
                    path: path.to_path_buf(),
                    message: format!("unexpected flow structure size {flow_size}"),
                });
            }
            Ok(NdpiLib {
                path: path.to_path_buf(),
                revision,
                api,
                flow_size,
                init: sym(&lib, path, "ndpi_init_detection_module")?,
                set_bitmask: sym(&lib, path, "ndpi_set_protocol_detection_bitmask2")?,
                finalize: sym(&lib, path, "ndpi_finalize_initialization")?,
                exit: sym(&lib, path, "ndpi_exit_detection_module")?,
                process: sym(&lib, path, "ndpi_detection_process_packet")?,
                giveup: sym(&lib, path, "ndpi_detection_giveup")?,
                extra_possible: sym(&lib, path, "ndpi_extra_dissection_possible")?,
                free_flow_data: sym(&lib, path, "ndpi_free_flow_data")?,
                proto_name: sym(&lib, path, "ndpi_get_proto_name")?,
                category_name: sym(&lib, path, "ndpi_category_get_name")?,
                risk_name: sym(&lib, path, "ndpi_risk2str")?,
                _lib: lib,
            })
        }
    }
}

/// One nDPI detection module: all protocols enabled, initialisation finished. nDPI keeps
/// per-packet state in it, so it is used by one thread at a time (it is `Send`, not `Sync`).
#[derive(Debug)]
pub(crate) struct NdpiModule {
    ptr: *mut c_void,
    lib: Arc<NdpiLib>,
}

// SAFETY: the module is plain heap memory owned by this handle; nDPI has no thread affinity,
// it only forbids concurrent use, which `&mut self` on every call that touches it rules out.
unsafe impl Send for NdpiModule {}

/// nDPI's memory for one flow: `flow_size` zeroed bytes, 8-byte aligned (the structure's
/// largest member alignment). Released with [`NdpiModule::release`], which frees what nDPI
/// allocated inside it.
#[derive(Debug)]
pub(crate) struct NdpiFlow {
    mem: Box<[u64]>,
}

// SAFETY: the flow memory is owned by this handle and only handed to nDPI together with the
// module of the thread that owns both.
unsafe impl Send for NdpiFlow {}

impl NdpiModule {
    /// Creates and initialises a module. nDPI forbids running this concurrently with itself,
    /// so callers create all modules on one thread (see `DpiEngine::workers`).
    pub(crate) fn new(lib: Arc<NdpiLib>) -> Result<NdpiModule, LoadError> {
        // SAFETY: prefs 0 = `ndpi_no_prefs`; returns NULL on failure.
        let ptr = unsafe { (lib.init)(0) };
        if ptr.is_null() {
            return Err(LoadError::Init {
                path: lib.path.clone(),
                message: "ndpi_init_detection_module failed".into(),
            });
        }
        let all = [u32::MAX; NDPI_BITMASK_WORDS];
        // SAFETY: `ptr` is a live module; the bitmask has nDPI 4.2's size (NDPI_NUM_BITS/32).
        unsafe {
            (lib.set_bitmask)(ptr, &all);
            (lib.finalize)(ptr);
        }
        Ok(NdpiModule { ptr, lib })
    }

    /// Fresh (zeroed) flow memory of nDPI's size, reusing `spare` when given.
    pub(crate) fn new_flow(&self, spare: Option<NdpiFlow>) -> NdpiFlow {
        match spare {
            Some(mut f) => {
                f.mem.fill(0);
                f
            }
            None => NdpiFlow { mem: vec![0u64; self.lib.flow_size.div_ceil(8)].into_boxed_slice() },
        }
    }

    /// `ndpi_detection_process_packet` on an IP packet (header first), `ts_ms` in milliseconds.
    pub(crate) fn process(&mut self, flow: &mut NdpiFlow, ip: &[u8], ts_ms: u64) -> NdpiProtocol {
        let len = ip.len().min(usize::from(u16::MAX)) as u16;
        // SAFETY: module and flow are live and owned by this thread; the flow memory has the
        // size nDPI asked for and was zeroed before its first packet; nDPI reads at most `len`
        // bytes of `ip` and keeps no pointer into it after returning.
        unsafe { (self.lib.process)(self.ptr, flow.mem.as_mut_ptr().cast(), ip.as_ptr(), len, ts_ms) }
    }

    /// `ndpi_detection_giveup` with protocol guessing on (as ndpiReader's default).
    pub(crate) fn giveup(&mut self, flow: &mut NdpiFlow) -> NdpiProtocol {
        let mut guessed = 0u8;
        // SAFETY: as in `process`; `guessed` is a valid out-pointer.
        unsafe { (self.lib.giveup)(self.ptr, flow.mem.as_mut_ptr().cast(), 1, &mut guessed) }
    }

    /// What [`NdpiModule::giveup`] would answer for `flow` now, without changing `flow`: the flow
    /// memory is copied into `scratch` (same size) and nDPI gives up on the copy.
    pub(crate) fn guess(&mut self, flow: &NdpiFlow, scratch: &mut NdpiFlow) -> NdpiProtocol {
        scratch.mem.copy_from_slice(&flow.mem);
        let mut guessed = 0u8;
        // SAFETY: `scratch` is a bitwise copy of a live flow of this module, so it is as valid as
        // `flow` for nDPI to read; `ndpi_detection_giveup` only writes plain fields of the flow it
        // is given (protocol stack, guessed ids, category) and looks up the module's caches
        // without removing entries; it neither frees nor allocates the heap buffers the copy
        // shares with `flow` (those stay owned by `flow`; the copy is never released through
        // nDPI, only overwritten by the next copy).
        unsafe { (self.lib.giveup)(self.ptr, scratch.mem.as_mut_ptr().cast(), 1, &mut guessed) }
    }

    /// `ndpi_extra_dissection_possible`: nDPI wants more packets of a classified flow.
    pub(crate) fn extra_possible(&mut self, flow: &mut NdpiFlow) -> bool {
        // SAFETY: as in `process`.
        unsafe { (self.lib.extra_possible)(self.ptr, flow.mem.as_mut_ptr().cast()) != 0 }
    }

    /// The flow's risk bitmap (`ndpi_flow_struct.risk`).
    pub(crate) fn risk(&self, flow: &NdpiFlow) -> u64 {
        // In bounds: `NdpiLib::load` checked flow_size >= NDPI_RISK_OFFSET + 8, and the offset
        // is 8-aligned, so this is a whole word of our own allocation.
        flow.mem.get(NDPI_RISK_OFFSET / 8).copied().unwrap_or(0)
    }

    /// Frees what nDPI allocated inside the flow; returns the memory for reuse.
    pub(crate) fn release(&mut self, mut flow: NdpiFlow) -> NdpiFlow {
        // SAFETY: the flow was initialised by this library (zeroed, then processed); after
        // this call nDPI holds nothing of it, and the memory is zeroed again before reuse.
        unsafe { (self.lib.free_flow_data)(flow.mem.as_mut_ptr().cast()) };
        flow
    }

    /// `ndpi_get_proto_name`.
    pub(crate) fn proto_name(&self, id: u16) -> String {
        // SAFETY: returns a pointer to a string owned by the module (or a static one).
        unsafe { c_string((self.lib.proto_name)(self.ptr, id)) }
    }

    /// `ndpi_category_get_name`.
    pub(crate) fn category_name(&self, category: u32) -> String {
        // SAFETY: returns a pointer to a string owned by the module (or a static one).
        unsafe { c_string((self.lib.category_name)(self.ptr, category)) }
    }

    /// `ndpi_risk2str` for one risk bit index.
    pub(crate) fn risk_name(&self, bit: u32) -> String {
        // SAFETY: returns a static string (nDPI prints unknown values into a static buffer;
        // only this thread calls it with this module's library at a time).
        unsafe { c_string((self.lib.risk_name)(bit)) }
    }
}

impl Drop for NdpiModule {
    fn drop(&mut self) {
        // SAFETY: the module is live, owned by this handle, and dropped once; flows allocated
        // with it hold no pointer into it (nDPI's flow memory is separate).
        unsafe { (self.lib.exit)(self.ptr) };
    }
}

/// `lpi_data_t` grew over libprotoident releases (52 bytes in 2.0.14, 84 in 2.0.15 with the
/// IPv6 addresses); we allocate this much, zeroed and 8-aligned, and let `lpi_init_data` set it.
const LPI_DATA_BYTES: usize = 512;
/// libtrace's `TRACE_TYPE_NONE`: the packet starts with the IP header.
const TRACE_TYPE_NONE: c_int = 5;

/// libprotoident's `lpi_module_t` prefix (stable since 2.0): protocol, category, name.
#[repr(C)]
struct LpiModuleHead {
    protocol: u32,
    category: u32,
    name: *const c_char,
}

/// A loaded libprotoident (with the libtrace it depends on).
#[derive(Debug)]
pub(crate) struct LpiLib {
    pub path: PathBuf,
    init_data: unsafe extern "C" fn(*mut c_void),
    update_data: unsafe extern "C" fn(*mut c_void, *mut c_void, u8) -> c_int,
    guess: unsafe extern "C" fn(*mut c_void) -> *const LpiModuleHead,
    category_name: unsafe extern "C" fn(u32) -> *const c_char,
    create_packet: unsafe extern "C" fn() -> *mut c_void,
    destroy_packet: unsafe extern "C" fn(*mut c_void),
    construct_packet: unsafe extern "C" fn(*mut c_void, c_int, *const c_void, u16),
    free_library: unsafe extern "C" fn(),
    _lib: Library,
}

impl std::fmt::Debug for LpiModuleHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lpi_module({})", self.protocol)
    }
}

impl LpiLib {
    /// Loads libprotoident from `path`, resolves its and libtrace's functions and runs
    /// `lpi_init_library` (once per process: netcap loads it at most once).
    pub(crate) fn load(path: &Path) -> Result<LpiLib, LoadError> {
        // SAFETY: loading runs the library's initialisers (C++ static constructors of
        // libprotoident and libtrace, which only set up their own globals).
        let lib = unsafe { Library::new(path) }
            .map_err(|e| LoadError::Open { path: path.to_path_buf(), message: describe(&e) })?;
        // SAFETY: the signatures are those of libprotoident.h (2.0.x) and libtrace.h (4.x);
        // dlsym on the handle also finds libtrace's symbols, a dependency of libprotoident.
        let l = unsafe {
            let init: unsafe extern "C" fn() -> c_int = sym(&lib, path, "lpi_init_library")?;
            let l = LpiLib {
                path: path.to_path_buf(),
                init_data: sym(&lib, path, "lpi_init_data")?,
                update_data: sym(&lib, path, "lpi_update_data")?,
                guess: sym(&lib, path, "lpi_guess_protocol")?,
                category_name: sym(&lib, path, "lpi_print_category")?,
                create_packet: sym(&lib, path, "trace_create_packet")?,
                destroy_packet: sym(&lib, path, "trace_destroy_packet")?,
                construct_packet: sym(&lib, path, "trace_construct_packet")?,
                free_library: sym(&lib, path, "lpi_free_library")?,
                _lib: lib,
            };
            if init() != 0 {
                return Err(LoadError::Init { path: path.to_path_buf(), message: "lpi_init_library failed".into() });
            }
            l
        };
        // libtrace creates its "dead trace" on the first constructed packet, without a lock:
        // do that once here, on one thread, before workers exist.
        let mut p = LpiPacket::default();
        p.construct(&l, &[0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        p.destroy(&l);
        Ok(l)
    }

    /// Classifies `data` so far: (protocol id, category id, protocol name, category name).
    pub(crate) fn guess(&self, data: &mut LpiData) -> Option<(u32, u32, String, String)> {
        // SAFETY: `data` was initialised by `lpi_init_data` and is large enough for any
        // released `lpi_data_t`; the returned module is a static of the library (or NULL).
        unsafe {
            let m = (self.guess)(data.mem.as_mut_ptr().cast());
            if m.is_null() {
                return None;
            }
            let m = &*m;
            let cat = c_string((self.category_name)(m.category));
            Some((m.protocol, m.category, c_string(m.name), cat))
        }
    }
}

impl Drop for LpiLib {
    fn drop(&mut self) {
        // SAFETY: called once, after every LpiData/LpiPacket of this library is gone (they are
        // only used while an `Arc<LpiLib>` is held).
        unsafe { (self.free_library)() };
    }
}

/// A libtrace packet that netcap fills with each IP packet it hands to libprotoident. The
/// owning `Dpi` destroys it with [`LpiPacket::destroy`] while it still holds the library.
#[derive(Debug)]
pub(crate) struct LpiPacket {
    ptr: *mut c_void,
}

impl Default for LpiPacket {
    fn default() -> Self {
        LpiPacket { ptr: std::ptr::null_mut() }
    }
}

// SAFETY: owned by one worker; libtrace packets have no thread affinity.
unsafe impl Send for LpiPacket {}

impl LpiPacket {
    fn construct(&mut self, lib: &LpiLib, ip: &[u8]) {
        // SAFETY: `trace_create_packet` returns a fresh packet (or NULL); construct copies at
        // most `len` bytes of `ip` into the packet's own buffer.
        unsafe {
            if self.ptr.is_null() {
                self.ptr = (lib.create_packet)();
            }
            if !self.ptr.is_null() {
                let len = ip.len().min(usize::from(u16::MAX)) as u16;
                (lib.construct_packet)(self.ptr, TRACE_TYPE_NONE, ip.as_ptr().cast(), len);
            }
        }
    }

    /// Feeds one IP packet of the flow to `data` (`dir` 0: from the flow's first sender).
    pub(crate) fn update(&mut self, lib: &LpiLib, data: &mut LpiData, ip: &[u8], dir: u8) {
        self.construct(lib, ip);
        if self.ptr.is_null() {
            return;
        }
        // SAFETY: the packet holds a copy of `ip`; `data` is an initialised `lpi_data_t`.
        unsafe { (lib.update_data)(self.ptr, data.mem.as_mut_ptr().cast(), dir) };
    }

    /// Frees the libtrace packet (also done on drop by the worker's `Dpi`).
    pub(crate) fn destroy(&mut self, lib: &LpiLib) {
        if !self.ptr.is_null() {
            // SAFETY: created by `trace_create_packet` of this library, destroyed once.
            unsafe { (lib.destroy_packet)(self.ptr) };
            self.ptr = std::ptr::null_mut();
        }
    }
}

/// libprotoident's per-flow `lpi_data_t`.
#[derive(Debug)]
pub(crate) struct LpiData {
    mem: Box<[u64]>,
}

impl LpiData {
    pub(crate) fn new(lib: &LpiLib) -> LpiData {
        let mut d = LpiData { mem: vec![0u64; LPI_DATA_BYTES / 8].into_boxed_slice() };
        // SAFETY: the memory is larger than any released `lpi_data_t` and 8-aligned.
        unsafe { (lib.init_data)(d.mem.as_mut_ptr().cast()) };
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles a probe against the installed nDPI headers (Debian's libndpi-dev) and compares
    /// its sizes and offsets with the declarations above.
    #[test]
    fn dpi_abi_matches_headers() {
        let header = Path::new("/usr/include/ndpi/ndpi_api.h");
        if !header.is_file() {
            assert!(std::env::var("NETCAP_REQUIRE_NDPI").as_deref() != Ok("1"), "nDPI headers are missing");
            eprintln!("notice: skipping, {} is missing (Debian libndpi-dev)", header.display());
            return;
        }
        let dir = std::env::temp_dir().join(format!("netcap-ndpi-abi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("probe.c");
        std::fs::write(
            &src,
            "#include <stdio.h>\n#include <stddef.h>\n#include <ndpi/ndpi_api.h>\n\
             int main(void) { printf(\"%d %zu %zu %zu %zu %zu %d\\n\", NDPI_API_VERSION, sizeof(ndpi_protocol), \
             offsetof(ndpi_protocol, master_protocol), offsetof(ndpi_protocol, app_protocol), \
             offsetof(ndpi_protocol, category), offsetof(struct ndpi_flow_struct, risk), NDPI_NUM_BITS); return 0; }\n",
        )
        .unwrap();
        let exe = dir.join("probe");
        let cc = std::process::Command::new("cc")
            .arg("-I/usr/include/ndpi")
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .output()
            .expect("run cc");
        assert!(cc.status.success(), "{}", String::from_utf8_lossy(&cc.stderr));
        let out = std::process::Command::new(&exe).output().expect("run probe");
        let v: Vec<u64> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(|w| w.parse().unwrap()).collect();
        std::fs::remove_dir_all(&dir).unwrap();
        let api = u16::try_from(v[0]).unwrap();
        assert!(NDPI_SUPPORTED.iter().any(|(a, _)| *a == api), "installed headers are API {api}");
        assert_eq!(v[1] as usize, size_of::<NdpiProtocol>());
        assert_eq!(v[2] as usize, std::mem::offset_of!(NdpiProtocol, master));
        assert_eq!(v[3] as usize, std::mem::offset_of!(NdpiProtocol, app));
        assert_eq!(v[4] as usize, std::mem::offset_of!(NdpiProtocol, category));
        assert_eq!(v[5] as usize, NDPI_RISK_OFFSET);
        assert_eq!(v[6] as usize, NDPI_BITMASK_WORDS * 32);
    }
}
