/*
 * Start-up code for the shipped fips-startup-check on aarch64, the counterpart of start.S:
 * the crt1.o of glibc >= 2.34 calls __libc_start_main@GLIBC_2.34, so a binary linked with it
 * needs glibc 2.34. This calls the GLIBC_2.17 version (the oldest aarch64 glibc's; every
 * later one still exports it), passing fsc_init, which runs the executable's constructors
 * itself: glibc before 2.34 expects the program to do that through the init argument, later
 * versions honour a non-NULL init the same way.
 */
        .symver __libc_start_main_compat, __libc_start_main@GLIBC_2.17
        .text
        .globl  _start
        .type   _start, %function
_start:
        mov     x29, #0                 /* outermost frame: no caller */
        mov     x30, #0
        mov     x5, x0                  /* rtld_fini from the dynamic linker */
        ldr     x1, [sp]                /* argc */
        add     x2, sp, #8              /* argv */
        mov     x6, sp                  /* stack_end */
        adrp    x0, main
        add     x0, x0, :lo12:main
        adrp    x3, fsc_init
        add     x3, x3, :lo12:fsc_init
        mov     x4, #0                  /* fini: destructors run through rtld_fini */
        bl      __libc_start_main_compat
        brk     #0                      /* __libc_start_main never returns */
        .size   _start, .-_start

/* void fsc_init(int argc, char **argv, char **envp): the executable's .init_array. */
        .globl  fsc_init
        .hidden fsc_init
        .type   fsc_init, %function
fsc_init:
        stp     x29, x30, [sp, #-48]!
        mov     x29, sp
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        mov     w19, w0
        mov     x20, x1
        mov     x21, x2
        adrp    x22, __init_array_start
        add     x22, x22, :lo12:__init_array_start
1:      adrp    x9, __init_array_end
        add     x9, x9, :lo12:__init_array_end
        cmp     x22, x9
        b.hs    2f
        ldr     x9, [x22], #8
        mov     w0, w19
        mov     x1, x20
        mov     x2, x21
        blr     x9
        b       1b
2:      ldp     x21, x22, [sp, #32]
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #48
        ret
        .size   fsc_init, .-fsc_init

        .section .note.GNU-stack, "", %progbits
