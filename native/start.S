/*
 * Start-up code for the shipped fips-startup-check (x86-64 only), replacing crt1.o: the
 * crt1.o of glibc >= 2.34 calls __libc_start_main@GLIBC_2.34, which glibc 2.31 (bullseye)
 * does not have. This calls the GLIBC_2.2.5 version every glibc exports, passing fsc_init,
 * which runs the executable's constructors itself: glibc before 2.34 expects the program to
 * do that through the init argument, later versions honour a non-NULL init the same way.
 */
        .symver __libc_start_main_compat, __libc_start_main@GLIBC_2.2.5
        .text
        .globl  _start
        .type   _start, @function
_start:
        xorl    %ebp, %ebp              /* outermost frame */
        movq    %rdx, %r9               /* rtld_fini from the dynamic linker */
        popq    %rsi                    /* argc */
        movq    %rsp, %rdx              /* argv */
        andq    $-16, %rsp
        pushq   %rax
        pushq   %rsp
        xorl    %r8d, %r8d              /* fini: destructors run through rtld_fini */
        leaq    fsc_init(%rip), %rcx
        leaq    main(%rip), %rdi
        call    *__libc_start_main_compat@GOTPCREL(%rip)
        hlt
        .size   _start, .-_start

/* void fsc_init(int argc, char **argv, char **envp): the executable's .init_array. */
        .globl  fsc_init
        .hidden fsc_init
        .type   fsc_init, @function
fsc_init:
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %rbx
        pushq   %rbp                    /* 5 pushes + return address: stack 16-byte aligned */
        movl    %edi, %r12d
        movq    %rsi, %r13
        movq    %rdx, %r14
        leaq    __init_array_start(%rip), %rbx
        leaq    __init_array_end(%rip), %rbp
1:      cmpq    %rbp, %rbx
        jae     2f
        movl    %r12d, %edi
        movq    %r13, %rsi
        movq    %r14, %rdx
        call    *(%rbx)
        addq    $8, %rbx
        jmp     1b
2:      popq    %rbp
        popq    %rbx
        popq    %r14
        popq    %r13
        popq    %r12
        ret
        .size   fsc_init, .-fsc_init

        .section .note.GNU-stack, "", @progbits
