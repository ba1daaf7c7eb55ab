/* pgtls: the subcommands of the front binary. Each component implements its
 * own in its library; every entry point gets argv with argv[0] = the
 * subcommand name and returns the process exit status (0 ok, 1 findings or
 * failures, 2 usage or input error). */
#ifndef PGTLS_COMMANDS_H
#define PGTLS_COMMANDS_H

int ca_cli_main(int argc, char **argv);     /* certs-gen/ca_cli.c */
int ms_cli_main(int argc, char **argv);     /* mockserver/ms_cli.c */
int im_cli_main(int argc, char **argv);     /* imds/im_cli.c */
int rn_cli_run(int argc, char **argv);      /* runner/rn_cli.c */
int rn_cli_repro(int argc, char **argv);    /* runner/rn_cli.c */
int rn_cli_clients(int argc, char **argv);  /* runner/rn_cli.c */
int rn_cli_timeline(int argc, char **argv); /* runner/rn_timeline.c */
int rs_cli_report(int argc, char **argv);   /* results/rs_cli.c */
int fd_dispatch_main(int argc, char **argv); /* fidelity/fd_dispatch.c */
int fd_run_against_real(int argc, char **argv); /* fidelity/fd_dispatch.c */

#endif
