//! Tiny eBPF drop programs, assembled in Rust and loaded with bpf(2).
//!
//! Contract:
//! - [`program`] is pure: it turns a [`DropRule`] into eBPF instructions for
//!   a `BPF_PROG_TYPE_SCHED_CLS` program used as cls_bpf direct-action: it
//!   returns [`TC_ACT_SHOT`] (drop) or [`TC_ACT_OK`] (pass). Every rule
//!   passes what it does not understand (non-IP, IP fragments other than the
//!   first, truncated frames), so a bad rule can never cut more than it names.
//! - Frames are Ethernet (no VLAN) carrying IPv4 (any IHL) or IPv6 (no
//!   extension headers: a TCP header behind one is not seen and passes).
//! - Packet bytes are read with the legacy `BPF_LD_ABS` / `BPF_LD_IND`
//!   instructions, which SCHED_CLS still accepts: they need no bounds
//!   checks (a read past the end ends the program with return 0, that is
//!   TC_ACT_OK: pass) and return values in host order, so the programs
//!   compare against plain constants. Direct packet access (skb->data /
//!   data_end) would need a bounds check before every read and byte swaps.
//!   At tc ingress cls_bpf pushes the MAC header back, and BPF_PROG_TEST_RUN
//!   hands the program the whole frame, so offset 0 is the Ethernet header
//!   in both.
//! - [`load`], [`Budget`] and [`test_run`] are the only syscalls (unsafe, small, errors
//!   named by errno; a rejected program carries the verifier's log).

use crate::sys::refused_io;
use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// cls_bpf direct-action verdict: let the frame through.
pub const TC_ACT_OK: u32 = 0;
/// cls_bpf direct-action verdict: drop the frame.
pub const TC_ACT_SHOT: u32 = 2;

/// Which frames a drop program drops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropRule {
    /// Every frame (ARP included): a cut wire.
    All,
    /// TCP segments carrying any of these flag bits (TcpFlags::FIN, RST, SYN, ...).
    TcpFlags { any_of: u8 },
    /// TCP segments with ACK and none of SYN/FIN/RST and no payload (this
    /// includes keepalive probes and their answers, window updates, dup ACKs).
    PureAck,
    /// Each frame with probability p (0.0 never, 1.0 always), using
    /// bpf_get_prandom_u32.
    Probability(f64),
}

impl DropRule {
    /// A short name (the program's and the tc filter's name).
    pub fn name(&self) -> String {
        match self {
            DropRule::All => "td_drop_all".into(),
            DropRule::TcpFlags { any_of } => format!("td_drop_fl{any_of:02x}"),
            DropRule::PureAck => "td_drop_ack".into(),
            DropRule::Probability(p) => {
                format!("td_drop_p{}", (p.clamp(0.0, 1.0) * 1000.0).round() as u32)
            }
        }
    }

    /// Refuses meaningless rules (a probability outside 0..=1 or NaN, no flag bits).
    pub fn validate(&self) -> Result<()> {
        match self {
            DropRule::Probability(p) if !(0.0..=1.0).contains(p) => {
                Err(anyhow!("drop probability {p} is not within 0..=1"))
            }
            DropRule::TcpFlags { any_of: 0 } => Err(anyhow!("drop by TCP flags needs a flag")),
            _ => Ok(()),
        }
    }
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high nibble.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Instruction classes, sizes, modes, operations (include/uapi/linux/bpf.h).
const BPF_LD: u8 = 0x00;
const BPF_ALU64: u8 = 0x07;
const BPF_JMP: u8 = 0x05;
const BPF_JMP32: u8 = 0x06;
const BPF_H: u8 = 0x08;
const BPF_B: u8 = 0x10;
const BPF_ABS: u8 = 0x20;
const BPF_IND: u8 = 0x40;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_ADD: u8 = 0x00;
const BPF_SUB: u8 = 0x10;
const BPF_AND: u8 = 0x50;
const BPF_LSH: u8 = 0x60;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JA: u8 = 0x00;
const BPF_JEQ: u8 = 0x10;
const BPF_JSET: u8 = 0x40;
const BPF_JNE: u8 = 0x50;
const BPF_JLT: u8 = 0xa0;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;
const BPF_ST: u8 = 0x02;
const BPF_STX: u8 = 0x03;
const BPF_MEM: u8 = 0x60;
const BPF_IMM: u8 = 0x00;
const BPF_ATOMIC: u8 = 0xc0;
const BPF_W: u8 = 0x00;
const BPF_DW: u8 = 0x18;
const BPF_FETCH: i32 = 0x01;
const BPF_JSLE: u8 = 0xd0;
const BPF_PSEUDO_MAP_FD: u8 = 1;
const FUNC_MAP_LOOKUP_ELEM: i32 = 1;
const FUNC_GET_PRANDOM_U32: i32 = 7;

/// Registers: r0 return value, r1 context, r6-r9 callee-saved.
pub type Reg = u8;
pub const R0: Reg = 0;
pub const R1: Reg = 1;
pub const R2: Reg = 2;
pub const R6: Reg = 6;
pub const R7: Reg = 7;
pub const R8: Reg = 8;
pub const R9: Reg = 9;
/// The read-only frame pointer (the top of the program's 512-byte stack).
pub const R10: Reg = 10;

impl Insn {
    const fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
    /// dst = imm (64-bit).
    pub const fn mov_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
    }
    /// dst = src.
    pub const fn mov_reg(dst: Reg, src: Reg) -> Insn {
        Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
    }
    /// dst = dst OP imm (64-bit; op one of the BPF_ALU operations).
    const fn alu_imm(op: u8, dst: Reg, imm: i32) -> Insn {
        Insn::new(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)
    }
    /// dst = dst OP src (64-bit).
    const fn alu_reg(op: u8, dst: Reg, src: Reg) -> Insn {
        Insn::new(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)
    }
    /// r0 = the byte at packet offset `off` (needs r6 = ctx).
    pub const fn ld_abs_b(off: i32) -> Insn {
        Insn::new(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, off)
    }
    /// r0 = the big-endian u16 at packet offset `off`, in host order.
    pub const fn ld_abs_h(off: i32) -> Insn {
        Insn::new(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, off)
    }
    /// r0 = the byte at packet offset `src + off`.
    pub const fn ld_ind_b(src: Reg, off: i32) -> Insn {
        Insn::new(BPF_LD | BPF_IND | BPF_B, 0, src, 0, off)
    }
    /// *(u32 *)(dst + off) = imm.
    pub const fn st_w(dst: Reg, off: i16, imm: i32) -> Insn {
        Insn::new(BPF_ST | BPF_MEM | BPF_W, dst, 0, off, imm)
    }
    /// dst = the map whose fd is `fd` (a two-slot `ld_imm64` the loader
    /// turns into the map's address).
    pub const fn ld_map_fd(dst: Reg, fd: i32) -> [Insn; 2] {
        [
            Insn::new(BPF_LD | BPF_IMM | BPF_DW, dst, BPF_PSEUDO_MAP_FD, 0, fd),
            Insn::new(0, 0, 0, 0, 0),
        ]
    }
    /// Atomically: src = the old *(u64 *)(dst + off), which becomes old + src.
    pub const fn atomic_fetch_add_dw(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(
            BPF_STX | BPF_ATOMIC | BPF_DW,
            dst,
            src,
            off,
            BPF_ADD as i32 | BPF_FETCH,
        )
    }
    pub const fn call(helper: i32) -> Insn {
        Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, helper)
    }
    pub const fn exit() -> Insn {
        Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
    }
}

/// A jump target in [`Asm`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Pass,
    Drop,
    V4,
    V6,
    Tcp,
    /// A counted drop whose budget is spent: pass.
    Spent,
}

/// A tiny assembler: instructions plus jumps to labels, resolved at the end.
struct Asm {
    insns: Vec<Insn>,
    fixups: Vec<(usize, Label)>,
    labels: Vec<(Label, usize)>,
}

impl Asm {
    fn new() -> Asm {
        Asm {
            insns: Vec::new(),
            fixups: Vec::new(),
            labels: Vec::new(),
        }
    }
    fn push(&mut self, i: Insn) {
        self.insns.push(i);
    }
    fn label(&mut self, l: Label) {
        self.labels.push((l, self.insns.len()));
    }
    /// A conditional jump `if dst OP imm goto l` (`class` JMP or JMP32).
    fn jmp_imm(&mut self, class: u8, op: u8, dst: Reg, imm: i32, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.push(Insn::new(class | op | BPF_K, dst, 0, 0, imm));
    }
    fn jmp_reg(&mut self, op: u8, dst: Reg, src: Reg, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.push(Insn::new(BPF_JMP | op | BPF_X, dst, src, 0, 0));
    }
    fn ja(&mut self, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.push(Insn::new(BPF_JMP | BPF_JA, 0, 0, 0, 0));
    }
    fn ret(&mut self, verdict: u32) {
        self.push(Insn::mov_imm(R0, verdict as i32));
        self.push(Insn::exit());
    }
    fn finish(mut self) -> Vec<Insn> {
        for (at, l) in &self.fixups {
            let target = self
                .labels
                .iter()
                .find(|(x, _)| x == l)
                .map(|(_, t)| *t)
                .expect("every label used is placed");
            self.insns[*at].off = (target as i64 - *at as i64 - 1) as i16;
        }
        self.insns
    }
}

const ETH_HLEN: i32 = 14;
const ETH_P_IP: i32 = 0x0800;
const ETH_P_IPV6: i32 = 0x86dd;
const IPPROTO_TCP: i32 = 6;
const ACK: i32 = 0x10;
const SYN_FIN_RST_ACK: i32 = 0x17;

/// Parses Ethernet + IPv4/IPv6 down to TCP. At `Label::Tcp`: r7 = offset of
/// the TCP header in the frame, r8 = length of the IP payload (TCP header +
/// data), r0 = the TCP flags byte. Anything else jumps to `Label::Pass`.
fn tcp_prologue(a: &mut Asm) {
    a.push(Insn::mov_reg(R6, R1)); // LD_ABS needs the context in r6
    a.push(Insn::ld_abs_h(12)); // ethertype
    a.jmp_imm(BPF_JMP, BPF_JEQ, R0, ETH_P_IP, Label::V4);
    a.jmp_imm(BPF_JMP, BPF_JEQ, R0, ETH_P_IPV6, Label::V6);
    a.ja(Label::Pass);

    a.label(Label::V4);
    a.push(Insn::ld_abs_b(ETH_HLEN + 9)); // protocol
    a.jmp_imm(BPF_JMP, BPF_JNE, R0, IPPROTO_TCP, Label::Pass);
    a.push(Insn::ld_abs_h(ETH_HLEN + 6)); // flags + fragment offset
    a.jmp_imm(BPF_JMP, BPF_JSET, R0, 0x1fff, Label::Pass); // not the first fragment
    a.push(Insn::ld_abs_b(ETH_HLEN)); // version + IHL
    a.push(Insn::alu_imm(BPF_AND, R0, 0x0f));
    a.push(Insn::alu_imm(BPF_LSH, R0, 2)); // IP header length
    a.push(Insn::mov_reg(R9, R0));
    a.push(Insn::mov_reg(R7, R0));
    a.push(Insn::alu_imm(BPF_ADD, R7, ETH_HLEN)); // r7 = TCP offset
    a.push(Insn::ld_abs_h(ETH_HLEN + 2)); // total length
    a.push(Insn::mov_reg(R8, R0));
    a.push(Insn::alu_reg(BPF_SUB, R8, R9)); // r8 = total - IHL*4
    a.ja(Label::Tcp);

    a.label(Label::V6);
    a.push(Insn::ld_abs_b(ETH_HLEN + 6)); // next header
    a.jmp_imm(BPF_JMP, BPF_JNE, R0, IPPROTO_TCP, Label::Pass);
    a.push(Insn::mov_imm(R7, ETH_HLEN + 40));
    a.push(Insn::ld_abs_h(ETH_HLEN + 4)); // payload length
    a.push(Insn::mov_reg(R8, R0));

    a.label(Label::Tcp);
    a.push(Insn::ld_ind_b(R7, 13)); // TCP flags
}

/// The instructions for a rule (pure). Probabilities outside 0..=1 are clamped.
pub fn program(rule: &DropRule) -> Vec<Insn> {
    program_counted(rule, None)
}

/// The instructions for a rule whose drops are limited by a [`Budget`] (pure):
/// with `budget_map` (the fd of the budget's map), a frame the rule matches is
/// dropped only while the budget's counter, decremented atomically for each
/// such frame, was still above zero; after that it passes. Every jump is
/// forward, so the verifier of any kernel with BPF_FETCH (5.12+) accepts it.
pub fn program_counted(rule: &DropRule, budget_map: Option<i32>) -> Vec<Insn> {
    let mut a = Asm::new();
    // Rules that match every frame go straight to the drop (with a budget:
    // its counting); the verifier refuses an unreachable pass block.
    let mut matches_all = false;
    match *rule {
        DropRule::All if budget_map.is_none() => {
            a.ret(TC_ACT_SHOT);
            return a.finish();
        }
        DropRule::All => matches_all = true,
        DropRule::Probability(p) => {
            let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
            if p <= 0.0 {
                a.ret(TC_ACT_OK);
                return a.finish();
            }
            if p >= 1.0 && budget_map.is_none() {
                a.ret(TC_ACT_SHOT);
                return a.finish();
            }
            if p >= 1.0 {
                matches_all = true;
            } else {
                // Drop when a uniform u32 is below p * 2^32 (a 32-bit compare, so
                // thresholds above 2^31 are not sign-extended).
                let threshold =
                    ((p * 4294967296.0).round() as u64).clamp(1, u32::MAX as u64) as u32;
                a.push(Insn::call(FUNC_GET_PRANDOM_U32));
                a.jmp_imm(BPF_JMP32, BPF_JLT, R0, threshold as i32, Label::Drop);
            }
        }
        DropRule::TcpFlags { any_of } => {
            tcp_prologue(&mut a);
            a.jmp_imm(BPF_JMP, BPF_JSET, R0, any_of as i32, Label::Drop);
        }
        DropRule::PureAck => {
            tcp_prologue(&mut a);
            pure_ack_match(&mut a);
        }
    }
    if !matches_all {
        a.label(Label::Pass);
        a.ret(TC_ACT_OK);
    }
    a.label(Label::Drop);
    if let Some(fd) = budget_map {
        budget_check(&mut a, fd);
    }
    a.ret(TC_ACT_SHOT);
    if budget_map.is_some() {
        a.label(Label::Spent);
        a.ret(TC_ACT_OK);
    }
    a.finish()
}

/// After [`tcp_prologue`]: to `Label::Drop` when the segment has ACK and none
/// of SYN/FIN/RST and no payload, else to `Label::Pass`.
fn pure_ack_match(a: &mut Asm) {
    a.push(Insn::alu_imm(BPF_AND, R0, SYN_FIN_RST_ACK));
    a.jmp_imm(BPF_JMP, BPF_JNE, R0, ACK, Label::Pass);
    a.push(Insn::ld_ind_b(R7, 12)); // data offset << 4
    a.push(Insn::alu_imm(BPF_RSH, R0, 4));
    a.push(Insn::alu_imm(BPF_LSH, R0, 2)); // TCP header length
    a.jmp_reg(BPF_JEQ, R8, R0, Label::Drop); // no payload
}

/// At `Label::Drop` of a counted program: on to the drop while the budget in
/// map `fd` was above zero (decrementing it), else to `Label::Spent`.
fn budget_check(a: &mut Asm, fd: i32) {
    // r0 = &budget[0] (key 0 on the stack), or pass if the lookup fails.
    a.push(Insn::st_w(R10, -4, 0));
    a.push(Insn::mov_reg(R2, R10));
    a.push(Insn::alu_imm(BPF_ADD, R2, -4));
    for i in Insn::ld_map_fd(R1, fd) {
        a.push(i);
    }
    a.push(Insn::call(FUNC_MAP_LOOKUP_ELEM));
    a.jmp_imm(BPF_JMP, BPF_JEQ, R0, 0, Label::Spent);
    // r1 = budget before this frame; budget -= 1. Drop only if it was > 0.
    a.push(Insn::mov_imm(R1, -1));
    a.push(Insn::atomic_fetch_add_dw(R0, R1, 0));
    a.jmp_imm(BPF_JMP, BPF_JSLE, R1, 0, Label::Spent);
}

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;

/// The BPF_PROG_LOAD part of `union bpf_attr` (fields we use, in order; 72
/// bytes, no padding).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_MAP_CREATE part of `union bpf_attr` (up to `map_name`; the kernel
/// zero-fills the rest; 44 bytes, no padding).
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// The BPF_MAP_*_ELEM part of `union bpf_attr` (32 bytes).
#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// The BPF_PROG_TEST_RUN part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    /// Explicit, so the struct has no uninitialised padding: the kernel
    /// refuses (EINVAL) an attr whose bytes past the fields it knows are not zero.
    _pad: u32,
}

/// bpf(2). Safety: `attr` must be the attribute struct for `cmd`, and every
/// pointer in it must stay valid for the call.
unsafe fn sys_bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: the caller guarantees `attr` is `cmd`'s attribute struct with
    // valid pointers; the size passed is that struct's.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// bpf(2) for a command that returns a new file descriptor (PROG_LOAD,
/// MAP_CREATE), which the caller then owns. Safety: as for [`sys_bpf`].
unsafe fn sys_bpf_fd<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<OwnedFd> {
    // SAFETY: the caller's guarantee is sys_bpf's; on success these commands
    // return a new descriptor (a small int), which nothing else owns.
    unsafe {
        let fd = sys_bpf(cmd, attr)?;
        Ok(OwnedFd::from_raw_fd(fd as std::os::fd::RawFd))
    }
}

/// Loads instructions as a SCHED_CLS program named `name` (license GPL).
/// On rejection the error holds the errno name and the verifier's log.
pub fn load_insns(name: &str, insns: &[Insn]) -> Result<OwnedFd> {
    let license = CString::new("GPL").expect("no NUL");
    let mut prog_name = [0u8; 16];
    for (d, s) in prog_name.iter_mut().zip(name.bytes().take(15)) {
        *d = if s.is_ascii_alphanumeric() || s == b'_' || s == b'.' {
            s
        } else {
            b'_'
        };
    }
    let attempt = |log: Option<&mut Vec<u8>>| -> std::io::Result<OwnedFd> {
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_SCHED_CLS,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            prog_name,
            ..Default::default()
        };
        if let Some(buf) = log {
            attr.log_level = 1;
            attr.log_size = buf.len() as u32;
            attr.log_buf = buf.as_mut_ptr() as u64;
        }
        // SAFETY: attr is a PROG_LOAD attribute; insns, license and the log
        // buffer outlive the call.
        unsafe { sys_bpf_fd(BPF_PROG_LOAD, &mut attr) }
    };
    match attempt(None) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            // Load again with a log to say why.
            let mut log = vec![0u8; 1 << 16];
            let _ = attempt(Some(&mut log));
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let tail: Vec<&str> = text.lines().rev().take(12).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(crate::error::missing(format!(
                "loading bpf program {name}: {}{}{}",
                crate::sys::errno_of_io(&e),
                if tail.is_empty() { "" } else { "; verifier: " },
                tail.join(" | ")
            )))
        }
    }
}

/// Assembles and loads the drop program for `rule`.
pub fn load(rule: &DropRule) -> Result<OwnedFd> {
    load_counted(rule, None)
}

/// Assembles and loads the drop program for `rule`, limited by `budget` when
/// given (the program keeps the budget's map alive).
pub fn load_counted(rule: &DropRule, budget: Option<&Budget>) -> Result<OwnedFd> {
    rule.validate()?;
    let insns = program_counted(rule, budget.map(|b| b.map.as_raw_fd()));
    load_insns(&rule.name(), &insns)
}

/// How many frames a counted drop program may still drop: a one-entry
/// `BPF_MAP_TYPE_ARRAY` holding an i64 that every matching frame decrements.
/// A drop limited this way ("lose the first FIN once") needs no harness
/// action to end it, so it never races the kernel's retransmission timer.
#[derive(Debug)]
pub struct Budget {
    map: OwnedFd,
    count: u64,
}

impl Budget {
    /// A budget of `count` frames (at least 1).
    pub fn new(count: u64) -> Result<Budget> {
        if count == 0 || count > i64::MAX as u64 {
            return Err(anyhow!("a drop budget is 1 or more frames, got {count}"));
        }
        let mut attr = MapCreateAttr {
            map_type: BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            ..Default::default()
        };
        attr.map_name[..9].copy_from_slice(b"td_budget");
        // SAFETY: attr is a MAP_CREATE attribute (no pointers in it).
        let map = unsafe { sys_bpf_fd(BPF_MAP_CREATE, &mut attr) }
            .map_err(|e| refused_io("creating a bpf array map", &e))?;
        let budget = Budget { map, count };
        let key = 0u32;
        let value = count as i64;
        let mut attr = MapElemAttr {
            map_fd: budget.map.as_raw_fd() as u32,
            key: &key as *const u32 as u64,
            value: &value as *const i64 as u64,
            ..Default::default()
        };
        // SAFETY: attr is a MAP_UPDATE_ELEM attribute; key and value outlive the call.
        unsafe { sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr) }
            .map_err(|e| refused_io("setting a drop budget", &e))?;
        Ok(budget)
    }

    /// The budget it was made with.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Frames the program matched so far: (dropped, passed because the budget was spent).
    pub fn used(&self) -> Result<(u64, u64)> {
        let key = 0u32;
        let mut value = 0i64;
        let mut attr = MapElemAttr {
            map_fd: self.map.as_raw_fd() as u32,
            key: &key as *const u32 as u64,
            value: &mut value as *mut i64 as u64,
            ..Default::default()
        };
        // SAFETY: attr is a MAP_LOOKUP_ELEM attribute; key and value outlive the call.
        unsafe { sys_bpf(BPF_MAP_LOOKUP_ELEM, &mut attr) }
            .map_err(|e| refused_io("reading a drop budget", &e))?;
        Ok(budget_used(self.count, value))
    }
}

/// (dropped, passed) from a budget's count and its counter now (pure).
pub fn budget_used(count: u64, remaining: i64) -> (u64, u64) {
    let matched = (count as i128 - remaining as i128).max(0) as u64;
    (matched.min(count), matched.saturating_sub(count))
}

/// Runs a loaded program once on a frame (BPF_PROG_TEST_RUN) and returns its
/// verdict ([`TC_ACT_OK`], [`TC_ACT_SHOT`]). Needs root; the frame must be at
/// least an Ethernet header long.
pub fn test_run(prog: BorrowedFd<'_>, frame: &[u8]) -> Result<u32> {
    let mut out = vec![0u8; frame.len() + 256];
    let mut attr = TestRunAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: frame.len() as u32,
        data_in: frame.as_ptr() as u64,
        data_size_out: out.len() as u32,
        data_out: out.as_mut_ptr() as u64,
        repeat: 1,
        ..Default::default()
    };
    // SAFETY: attr is a TEST_RUN attribute; frame and out outlive the call.
    unsafe { sys_bpf(BPF_PROG_TEST_RUN, &mut attr) }
        .map_err(|e| refused_io("BPF_PROG_TEST_RUN", &e))?;
    Ok(attr.retval)
}

/// True when this kernel loads and runs our SCHED_CLS programs (for doctor).
/// Leaves nothing behind (the program goes with its fd).
pub fn has_bpf() -> bool {
    load(&DropRule::All).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_resolve_forward_and_every_program_ends_in_exit() {
        for rule in [
            DropRule::All,
            DropRule::TcpFlags { any_of: 0x01 },
            DropRule::PureAck,
            DropRule::Probability(0.5),
            DropRule::Probability(0.0),
            DropRule::Probability(1.0),
        ] {
            for budget in [None, Some(7)] {
                let p = program_counted(&rule, budget);
                check_jumps(&rule, &p);
                // A counted program looks its map up (unless it never drops).
                let has_map = p
                    .iter()
                    .any(|i| i.code == BPF_LD | BPF_IMM | BPF_DW && i.imm == 7 && i.regs >> 4 == 1);
                let never_drops = rule == DropRule::Probability(0.0);
                assert_eq!(
                    has_map,
                    budget.is_some() && !never_drops,
                    "{rule:?} {budget:?}"
                );
            }
        }
    }

    #[test]
    fn budget_use_counts_drops_then_passes() {
        assert_eq!(budget_used(1, 1), (0, 0));
        assert_eq!(budget_used(1, 0), (1, 0));
        assert_eq!(budget_used(2, -3), (2, 3));
        assert_eq!(budget_used(3, 5), (0, 0), "never more than it started with");
    }

    fn check_jumps(rule: &DropRule, p: &[Insn]) {
        assert_eq!(p.last().unwrap().code, BPF_JMP | BPF_EXIT, "{rule:?}");
        for (i, insn) in p.iter().enumerate() {
            let class = insn.code & 0x07;
            let op = insn.code & 0xf0;
            if (class == BPF_JMP || class == BPF_JMP32) && op != BPF_CALL && op != BPF_EXIT {
                let target = i as i64 + 1 + insn.off as i64;
                assert!(insn.off >= 0, "{rule:?}: backward jump at {i}");
                assert!(target < p.len() as i64, "{rule:?}: jump out at {i}");
            }
        }
    }

    #[test]
    fn probability_threshold_is_unsigned_32_bit() {
        let p = program(&DropRule::Probability(0.75));
        let j = p
            .iter()
            .find(|i| i.code == BPF_JMP32 | BPF_JLT | BPF_K)
            .unwrap();
        assert_eq!(j.imm as u32, 0xC000_0000);
        assert_eq!(program(&DropRule::Probability(f64::NAN)).len(), 2);
    }

    #[test]
    fn rules_validate_and_name() {
        assert!(DropRule::Probability(1.5).validate().is_err());
        assert!(DropRule::Probability(f64::NAN).validate().is_err());
        assert!(DropRule::TcpFlags { any_of: 0 }.validate().is_err());
        assert!(DropRule::PureAck.validate().is_ok());
        assert_eq!(DropRule::TcpFlags { any_of: 1 }.name(), "td_drop_fl01");
        assert_eq!(DropRule::Probability(0.25).name(), "td_drop_p250");
        for r in [DropRule::All, DropRule::PureAck, DropRule::Probability(0.5)] {
            assert!(r.name().len() <= 15);
        }
    }
}
