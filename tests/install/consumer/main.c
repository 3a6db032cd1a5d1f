/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The install test's application: registers its own type (shop.Note, which
 * embeds axon.msgs.Header), publishes one Note and receives it on a
 * subscription of the same node. Exit 0 only when the text came back.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "axon/axon.h"
#include "shop/note.pb-c.h"
#include SHOP_TYPES_H /* generated: the set of shop types */

static atomic_int got;

static void on_note(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    (void)user;
    ProtobufCMessage *pm;
    if (ax_msg_unpack(m, &shop__note__descriptor, &pm) < 0)
        return;
    const Shop__Note *n = (const Shop__Note *)pm;
    if (strcmp(n->text, "hello from outside") == 0 && n->header && n->header->seq == 7)
        atomic_store(&got, 1);
    protobuf_c_message_free_unpacked(pm, NULL);
}

int main(void)
{
    int rc;
    const ax_type *type;
    if ((rc = SHOP_REGISTER()) < 0 || (rc = ax_type_find("shop.Note", &type)) < 0) {
        fprintf(stderr, "consumer: type: %s\n", ax_strerror(rc));
        return 1;
    }
    struct ax_config cfg;
    struct ax_config_error err;
    ax_config_init(&cfg);
    if (ax_config_load_string(&cfg, "node:\n  threads: 0\ndiscovery:\n  mode: off\n", "consumer",
                              &err) < 0) {
        char buf[256];
        fprintf(stderr, "consumer: %s\n", ax_config_error_str(&err, buf, sizeof buf));
        return 1;
    }
    ax_node *node;
    ax_pub *pub;
    ax_sub *sub;
    if ((rc = ax_node_new(&node, &cfg)) < 0 ||
        (rc = ax_sub_new(&sub, node, "/shop/notes", type, on_note, NULL, NULL)) < 0 ||
        (rc = ax_pub_new(&pub, node, "/shop/notes", type, NULL)) < 0) {
        fprintf(stderr, "consumer: %s\n", ax_strerror(rc));
        return 1;
    }
    Axon__Std__Header h = AXON__STD__HEADER__INIT;
    h.seq = 7;
    Shop__Note note = SHOP__NOTE__INIT;
    note.header = &h;
    note.text = "hello from outside";
    if ((rc = ax_pub_publish(pub, &note.base)) < 0) {
        fprintf(stderr, "consumer: publish: %s\n", ax_strerror(rc));
        return 1;
    }
    int64_t deadline = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    while (!atomic_load(&got) && ax_clock_mono_ns() < deadline)
        ax_node_spin_once(node, 50);
    ax_pub_free(pub);
    ax_sub_free(sub);
    ax_node_destroy(node);
    ax_config_fini(&cfg);
    printf("consumer: %s\n", atomic_load(&got) ? "received the note" : "no note within 10 s");
    return atomic_load(&got) ? 0 : 1;
}
