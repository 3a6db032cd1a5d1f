/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The main() of the layer link checks (cmake/AxonLayers.cmake): each check
 * links one layer's objects and those of the layers below it, nothing
 * else, so a call from the layer to a higher one is an undefined symbol.
 */
int main(void)
{
    return 0;
}
