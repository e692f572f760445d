/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Subcommands shared by vdkr and vpdmn (each prints in its own flavour). */
#ifndef VXN_TOOLS_COMMANDS_H
#define VXN_TOOLS_COMMANDS_H

#include "cli.h"

int cmd_info(struct cli *cli, int argc, char **argv);
int cmd_images(struct cli *cli, int argc, char **argv);
int cmd_pull(struct cli *cli, int argc, char **argv);
int cmd_push(struct cli *cli, int argc, char **argv);
int cmd_load(struct cli *cli, int argc, char **argv);
int cmd_save(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);
int cmd_tag(struct cli *cli, int argc, char **argv);
int cmd_rmi(struct cli *cli, int argc, char **argv);
int cmd_image_inspect(struct cli *cli, int argc, char **argv);
int cmd_history(struct cli *cli, int argc, char **argv);
int cmd_image_prune(struct cli *cli, int argc, char **argv);
int cmd_system_df(struct cli *cli, int argc, char **argv);
int cmd_image_group(struct cli *cli, int argc, char **argv);
int cmd_system_group(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);

/* The command table vdkr and vpdmn share (their summaries differ little). */
#define VXN_IMAGE_COMMANDS                                                            \
	{ "images", "List images", cmd_images, NULL },                                \
	    { "pull", "Download an image from a registry", cmd_pull, NULL },          \
	    { "push", "Upload an image to a registry", cmd_push, NULL },              \
	    { "load", "Load images from a tar archive or STDIN", cmd_load, NULL },    \
	    { "save", "Save images to a tar archive", cmd_save, NULL },               \
	    { "import", "Create an image from a rootfs tarball", cmd_import, NULL },  \
	    { "tag", "Give an image another name", cmd_tag, NULL },                   \
	    { "rmi", "Remove one or more images", cmd_rmi, NULL },                    \
	    { "inspect", "Show image details (JSON)", cmd_image_inspect, NULL },      \
	    { "history", "Show the history of an image", cmd_history, NULL },         \
	    { "image",                                                                \
	      "Manage images (ls, pull, push, load, save, import, tag, rm, inspect, " \
	      "history, prune)",                                                      \
	      cmd_image_group, NULL },                                                \
	{                                                                             \
		"system", "Manage vxn (df, info, prune)", cmd_system_group, NULL      \
	}

#endif
