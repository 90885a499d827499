/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl's command lines (private to control/zonectl/): each command
 * describes its options in a table and one parser reads them, with the
 * global options (--socket, --state) accepted anywhere, and prints the
 * command's --help from the same table.
 *
 * Syntax, for every command: long options as "--name VALUE" or
 * "--name=VALUE", short ones as "-x VALUE" or "-xVALUE"; a value is the
 * next argument whatever it looks like; options and positional arguments
 * mix in any order; "-" alone is a positional argument; a later option
 * overrides an earlier one. "-h" and "--help" print the help on stdout.
 * Errors are one "zonectl: ..." line on stderr and exit code 2.
 */
#ifndef ZONEWALL_CONTROL_ZONECTL_OPTIONS_H
#define ZONEWALL_CONTROL_ZONECTL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum zw_ctl_opt_kind {
	ZW_CTL_FLAG,   /* no value; sets a bool */
	ZW_CTL_STRING, /* sets a const char * (points into argv) */
	ZW_CTL_INT,    /* a decimal number in [min, max]; sets a long */
	ZW_CTL_ENUM,   /* one of @choices; sets an int, the choice's index */
};

/* One option. Its value is stored at offset @off of the command's
 * configuration struct (offsetof), in the type its kind says. */
struct zw_ctl_opt {
	const char *name;  /* long name without "--"; NULL ends a table */
	char short_name;   /* 'o' for -o, or 0 */
	enum zw_ctl_opt_kind kind;
	size_t off;
	const char *arg;   /* the value in the help ("FILE"); ENUM: choices */
	const char *help;  /* may hold '\n' */
	const char *const *choices; /* ENUM: NULL-terminated */
	long min, max;     /* INT */
	bool last;         /* the rest of the command line is not read */
};

/* One table entry: ZW_CTL_OPT("output", 'o', ZW_CTL_STRING, struct cfg,
 * output, "FILE", "help"), then designated extras (.choices, .min, .max,
 * .last). */
#define ZW_CTL_OPT(NAME, SHORT, KIND, TYPE, FIELD, ARG, HELP, ...)             \
	{                                                                      \
		.name = (NAME), .short_name = (SHORT), .kind = (KIND),         \
		.off = offsetof(TYPE, FIELD), .arg = (ARG), .help = (HELP),    \
		__VA_ARGS__                                                    \
	}

/* At most this many positional arguments in any command. */
#define ZW_CTL_MAX_POS 5

/* A command's command line. */
struct zw_ctl_cmdline {
	const char *name;  /* "journal verify"; "" for zonectl itself */
	const char *usage; /* synopsis lines, '\n'-separated */
	const char *about; /* what it does, printed after the synopsis */
	const struct zw_ctl_opt *opts; /* may be NULL */
	int max_pos;       /* positional arguments taken */
	const char *too_many; /* message for one more (default: "unknown
			       * argument '...' (see zonectl NAME --help)") */
	bool stop_at_pos;  /* parsing ends at the first positional argument
			    * (zonectl's own options, before the command) */
	/* Verbs with their own options (journal verify): their options are
	 * listed in this command's help, and zw_ctl_find_verb() looks over
	 * them. */
	const struct zw_ctl_cmdline *const *verbs;
	const struct zw_ctl_cmdline *help_of; /* --help prints this one's */
	void (*help_more)(FILE *out); /* printed after @about */
	const char *epilog; /* printed last */
	bool globals_in_help;
};

/* The positional arguments found, and where parsing stopped. */
struct zw_ctl_args {
	const char *pos[ZW_CTL_MAX_POS];
	int n_pos;
	int next; /* index in argv of the first argument not read */
};

/* Choices of --format shared by several commands (journal format order:
 * the index is an enum zw_journal_format). */
extern const char *const zw_ctl_text_json[];
extern const char *const zw_ctl_text_json_csv[];

/* zw_ctl_parse() returns this when the command goes on. */
#define ZW_CTL_GO (-1)

/*
 * Read argv[1..argc) (argv[0] is the command's name) by @cl's table into
 * @cfg and @a (zeroed first; @cfg keeps the defaults it holds), and the
 * global options into zw_ctl. Returns ZW_CTL_GO, or the exit code to
 * return now: 0 after printing the help on stdout, 2 after a usage error
 * (reported).
 */
int zw_ctl_parse(const struct zw_ctl_cmdline *cl, void *cfg, int argc,
		 char **argv, struct zw_ctl_args *a);

/* Print @cl's help: synopsis, about, then its options (and its verbs')
 * from the tables. */
void zw_ctl_help(const struct zw_ctl_cmdline *cl, FILE *out);

/*
 * The index in argv of the first positional argument of a command with
 * verbs (argv[0] is the command), skipping the values of the options of
 * @cl and of its verbs, or 0 when there is none. The verb may follow
 * options ("zonectl journal --format json verify").
 */
int zw_ctl_find_verb(const struct zw_ctl_cmdline *cl, int argc, char **argv);

#endif
